/** `sealwork result`: the beneficiary's result key (generate, push to the SMS) and downloads. */
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { action, pushed } from '../context.js';
import {
  chainOptions,
  chainParams,
  smsOptions,
  smsParams,
  type ChainOpts,
  type SmsOpts,
} from '../options.js';

const sdkSms = () => import('../../sdk/sms/index.js');

function generateKeyCommand(result: Command): void {
  result
    .command('generate-key')
    .description('Generate the beneficiary RSA-4096 result key pair (private key 0600)')
    .option(
      '--out <dir>',
      'folder for result-key.pem and result-key.pub.pem (default $SEALWORK_HOME/keys/result)',
    )
    .option('--force', 'overwrite an existing key pair')
    .action(
      action(async (ctx, o: { out?: string; force?: boolean }) => {
        const { generateResultKey } = await sdkSms();
        const r = await generateResultKey({
          home: ctx.home,
          ...(o.out ? { out: o.out } : {}),
          ...(o.force ? { force: true } : {}),
        });
        ctx.out({ privateKeyFile: r.privateKeyFile, publicKeyFile: r.publicKeyFile }, [
          `private key: ${r.privateKeyFile} (0600, keep it secret)`,
          `public key:  ${r.publicKeyFile}`,
          'push it with: sealwork result push-key',
        ]);
      }),
    );
}

function pushKeyCommand(result: Command): void {
  smsOptions(
    result
      .command('push-key')
      .description('Push your result-encryption public key to the SMS (iexec-result-encryption-public-key)')
      .option(
        '--public-key-file <file>',
        'RSA public key PEM (default $SEALWORK_HOME/keys/result/result-key.pub.pem)',
      )
      .option('--update', 'replace the key already pushed'),
  ).action(
    action(async (ctx, o: SmsOpts & { publicKeyFile?: string; update?: boolean }) => {
      const { pushResultKey } = await sdkSms();
      const r = await pushResultKey({
        ...smsParams(ctx, o),
        ...(o.publicKeyFile ? { publicKeyFile: o.publicKeyFile } : {}),
        ...(o.update ? { update: true } : {}),
      });
      pushed(ctx, `result key ${r.publicKeyFile}`, r);
    }),
  );
}

interface DownloadOpts extends ChainOpts {
  decrypt?: boolean;
  key?: string;
  out?: string;
  storageCa?: string;
  force?: boolean;
}

function downloadCommand(result: Command): void {
  chainOptions(
    result
      .command('download')
      .description(
        'Download the result of a completed task (and decrypt it with the beneficiary key), checked against the chain',
      )
      .argument('<taskid>')
      .option('--decrypt', 'decrypt the result (needs --key)')
      .option('--key <file>', 'the beneficiary RSA private key (PEM)')
      .option('--out <dir>', 'folder for the result files (default ./<taskid>)')
      .option('--storage-ca <cert.pem>', 'certificate of the result storage (default: the local storage’s)')
      .option('--force', 'overwrite existing files'),
  ).action(
    action(async (ctx, o: DownloadOpts, taskid: string) => {
      const { downloadResult } = await import('../../sdk/worker/requester.js');
      const r = await downloadResult({
        ...chainParams(ctx, o),
        taskId: taskid as Hex,
        decrypt: o.decrypt,
        keyFile: o.key,
        out: o.out,
        force: o.force,
        ...(o.storageCa ? { caFile: o.storageCa } : {}),
        onWarning: (w) => process.stderr.write(`${w}\n`),
      });
      ctx.out(r, [
        `result of ${taskid}${r.decrypted ? ' (decrypted)' : r.encrypted ? ' (encrypted: pass --decrypt --key <file>)' : ''}:`,
        ...r.files.map((f) => `  ${f}`),
        r.digestChecked
          ? `verified: the result has the on-chain digest${r.contentAddressChecked ? ' and its content address' : ''}`
          : `not verified: encrypted${r.contentAddressChecked ? ' (its content address matches)' : ''}; --decrypt checks the on-chain digest`,
      ]);
    }),
  );
}

export function register(program: Command): void {
  const result = program.command('result').description('Results: keys, download, decrypt');
  generateKeyCommand(result);
  pushKeyCommand(result);
  downloadCommand(result);
}
