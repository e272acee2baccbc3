/** `sealwork dataset`: encrypt, decrypt, checksum, deploy, show, push-secret. */
import type { Command } from 'commander';
import type { Address } from 'viem';
import { action, pushed } from '../context.js';
import {
  chainOptions,
  chainParams,
  smsOptions,
  smsParams,
  type ChainOpts,
  type SmsOpts,
} from '../options.js';
import { progressBar } from '../progress.js';
import { readSecret } from '../terminal.js';

// SDK modules are imported inside actions: `sealwork --help` and unrelated commands stay fast and small.
const sdk = () => import('../../sdk/dataset.js');
const sdkAssets = () => import('../../sdk/chain/assets.js');
const sdkSms = () => import('../../sdk/sms/index.js');

function encryptCommand(dataset: Command): void {
  dataset
    .command('encrypt')
    .description('Encrypt a dataset file (iExec format: IV ‖ AES-256-CBC) and write its key file (0600)')
    .argument('<file>', 'plaintext file')
    .option('--out <file.enc>', 'encrypted output (default <file>.enc)')
    .option('--key-file <path>', 'where to write the key (default $SEALWORK_HOME/keys/datasets/<name>.key)')
    .option('--show-key', 'also print the base64 key')
    .option('--force', 'overwrite existing outputs')
    .action(
      action(
        async (
          ctx,
          o: { out?: string; keyFile?: string; showKey?: boolean; force?: boolean },
          file: string,
        ) => {
          const bar = progressBar('encrypting', ctx.interactive);
          const { encryptDataset } = await sdk();
          const r = await encryptDataset({
            input: file,
            output: o.out,
            keyFile: o.keyFile,
            force: o.force,
            home: ctx.home,
            onProgress: bar.update,
          }).finally(bar.done);
          ctx.out(
            {
              encrypted: r.output,
              keyFile: r.keyFile,
              checksum: r.checksum,
              plainSize: r.plainSize,
              encryptedSize: r.encryptedSize,
              ...(o.showKey ? { key: r.key } : {}),
            },
            [
              `encrypted: ${r.output}`,
              `key file:  ${r.keyFile}`,
              `checksum:  ${r.checksum}`,
              ...(o.showKey ? [`key:       ${r.key}`] : []),
            ],
          );
        },
      ),
    );
}

function decryptCommand(dataset: Command): void {
  dataset
    .command('decrypt')
    .description('Decrypt a dataset file encrypted with `dataset encrypt` or the iExec SDK')
    .argument('<file.enc>', 'encrypted file')
    .requiredOption('--key-file <path>', 'the dataset key file')
    .option('--out <file>', 'plaintext output (default: <file.enc> without .enc)')
    .option('--force', 'overwrite an existing output')
    .action(
      action(async (ctx, o: { keyFile: string; out?: string; force?: boolean }, file: string) => {
        const bar = progressBar('decrypting', ctx.interactive);
        const { decryptDataset } = await sdk();
        const r = await decryptDataset({
          input: file,
          keyFile: o.keyFile,
          output: o.out,
          force: o.force,
          onProgress: bar.update,
        }).finally(bar.done);
        ctx.out({ decrypted: r.output, plainSize: r.plainSize }, `decrypted: ${r.output}`);
      }),
    );
}

function checksumCommand(dataset: Command): void {
  dataset
    .command('checksum')
    .description('Print 0x + sha256 of a file (the checksum deployed on chain for an encrypted dataset)')
    .argument('<file>')
    .action(
      action(async (ctx, _o: object, file: string) => {
        const bar = progressBar('hashing', ctx.interactive);
        const { datasetChecksum } = await sdk();
        const checksum = await datasetChecksum({ input: file, onProgress: bar.update }).finally(bar.done);
        ctx.out({ file, checksum }, checksum);
      }),
    );
}

function deployCommand(dataset: Command): void {
  chainOptions(
    dataset
      .command('deploy')
      .description('Register an encrypted dataset on chain: its URL and checksum')
      .requiredOption('--name <name>', 'dataset name')
      .requiredOption('--url <url>', 'where the encrypted dataset is downloaded')
      .requiredOption(
        '--checksum <bytes32>',
        '0x + sha256 of the encrypted file (`sealwork dataset checksum`)',
      )
      .option('--owner <address>', 'owner of the dataset NFT (default: the wallet)'),
  ).action(
    action(async (ctx, o: ChainOpts & { name: string; url: string; checksum: string; owner?: Address }) => {
      const r = await (await sdkAssets()).deployDataset({ ...chainParams(ctx, o), ...o });
      ctx.out(r, [`dataset: ${r.address}`, `owner:   ${r.owner}`, `tx:      ${r.txHash}`]);
    }),
  );
}

function showCommand(dataset: Command): void {
  chainOptions(
    dataset.command('show').description('Show a dataset registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showDataset } = await sdkAssets();
      const r = await showDataset({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [
        `dataset:  ${r.address}`,
        `owner:    ${r.owner}`,
        `name:     ${r.name}`,
        `url:      ${r.multiaddr}`,
        `checksum: ${r.checksum}`,
      ]);
    }),
  );
}

function pushSecretCommand(dataset: Command): void {
  smsOptions(
    dataset
      .command('push-secret')
      .description(
        "Push a dataset's key to the SMS (signed by the dataset owner); only authorized enclaves get it",
      )
      .argument('<dataset>', 'dataset address')
      .option(
        '--key-file <path>',
        'the key file written by `dataset encrypt` (else stdin or a masked prompt)',
      )
      .option('--stdin', 'read the key from stdin'),
  ).action(
    action(async (ctx, o: SmsOpts & { keyFile?: string; stdin?: boolean }, address: string) => {
      const key = await readSecret(ctx, { file: o.keyFile, stdin: o.stdin }, 'dataset key');
      pushed(
        ctx,
        `key of dataset ${address}`,
        await (await sdkSms()).pushDatasetSecret({ ...smsParams(ctx, o), dataset: address, key }),
      );
    }),
  );
}

export function register(program: Command): void {
  const dataset = program
    .command('dataset')
    .description('Datasets: encrypt, decrypt, checksum, deploy, push the key');
  encryptCommand(dataset);
  decryptCommand(dataset);
  checksumCommand(dataset);
  deployCommand(dataset);
  showCommand(dataset);
  pushSecretCommand(dataset);
}
