import type { Command } from 'commander';

// SDK modules are imported inside actions: `sealwork --help` and unrelated commands stay fast and small.
const sdk = () => import('../../sdk/dataset.js');
import { action } from '../context.js';
import { group } from '../groups.js';
import { progressBar } from '../progress.js';

export function register(program: Command): void {
  const dataset = group(program, 'dataset');

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
