/** Secret commands of the SMS domain: dataset/app/requester push-secret, result keys, secret check. */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import { SealworkError, fsError } from '../../errors.js';
import type { SecretCheckKind, SmsSignerParameters } from '../../sdk/sms/index.js';
import { action, type CliContext } from '../context.js';
import { group } from '../groups.js';
import { chainParams, promptSecret } from './chain-common.js';

interface SmsOpts {
  smsUrl?: string;
  smsCa?: string;
  as?: string;
}

function smsOptions(cmd: Command, signer = true): Command {
  cmd
    .option('--sms-url <url>', 'SMS URL (env SEALWORK_SMS_URL, default: the local SMS)')
    .option(
      '--sms-ca <file>',
      'PEM certificate to trust (env SEALWORK_SMS_CA, default: the local SMS certificate)',
    );
  if (signer)
    cmd.option(
      '--as <name>',
      'sign as a named dev account of the embedded chain (else SEALWORK_PRIVATE_KEY or the wallet)',
    );
  return cmd;
}

function params(ctx: CliContext, o: SmsOpts): SmsSignerParameters {
  const c = chainParams(ctx, { as: o.as });
  return {
    home: ctx.home,
    ...(o.smsUrl ? { smsUrl: o.smsUrl } : {}),
    ...(o.smsCa ? { smsCa: o.smsCa } : {}),
    ...(o.as ? { as: o.as } : {}),
    ...(c.promptPassword ? { promptPassword: c.promptPassword } : {}),
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A secret value from a file, stdin, or a masked prompt — never from argv. One trailing newline
 * (as `echo` and editors add) is dropped.
 */
async function readSecret(
  ctx: CliContext,
  o: { file?: string; stdin?: boolean },
  what: string,
): Promise<string> {
  let v: string;
  if (o.file) {
    try {
      v = await fs.readFile(o.file, 'utf8');
    } catch (e) {
      throw fsError(e, o.file, `read the ${what}`);
    }
  } else if (o.stdin || !process.stdin.isTTY) {
    v = await readStdin();
  } else if (ctx.interactive) {
    v = await promptSecret(`${what}: `);
  } else {
    throw new SealworkError('SECRET_MISSING', `No ${what} given.`, {
      hint: 'Pass a file, pipe it on stdin, or run in a terminal to be prompted.',
    });
  }
  v = v.replace(/\r?\n$/, '');
  if (v.length === 0)
    throw new SealworkError('SECRET_MISSING', `The ${what} is empty.`, {
      hint: 'Pass a file, pipe it on stdin, or type it at the prompt.',
    });
  return v;
}

// Loaded on use: other commands do not pay for the SMS's dependencies.
const sdk = () => import('../../sdk/sms/index.js');

const pushed = (ctx: CliContext, what: string, r: { sms: string; signer: string; target: string }) =>
  ctx.out({ pushed: true, ...r }, `${what} pushed to ${r.sms} (signed by ${r.signer})`);

export function register(program: Command): void {
  const dataset = group(program, 'dataset');
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
        await (await sdk()).pushDatasetSecret({ ...params(ctx, o), dataset: address, key }),
      );
    }),
  );

  const app = group(program, 'app');
  smsOptions(
    app
      .command('push-secret')
      .description('Push the app developer secret (IEXEC_APP_DEVELOPER_SECRET) to the SMS, as the app owner')
      .argument('<app>', 'app address')
      .option('--secret-file <path>', 'file holding the secret (else stdin or a masked prompt)')
      .option('--stdin', 'read the secret from stdin'),
  ).action(
    action(async (ctx, o: SmsOpts & { secretFile?: string; stdin?: boolean }, address: string) => {
      const secret = await readSecret(ctx, { file: o.secretFile, stdin: o.stdin }, 'app secret');
      pushed(
        ctx,
        `secret of app ${address}`,
        await (await sdk()).pushAppSecret({ ...params(ctx, o), app: address, secret }),
      );
    }),
  );
  smsOptions(
    app
      .command('push-fs-key')
      .description(
        "Push the app's file-system key (encrypted regions) to the SMS, as the app owner; immutable",
      )
      .argument('<app>', 'app address')
      .requiredOption('--fs-key-file <file>', 'the file-system key file written by `app build`'),
  ).action(
    action(async (ctx, o: SmsOpts & { fsKeyFile: string }, address: string) => {
      pushed(
        ctx,
        `file-system key of app ${address}`,
        await (await sdk()).pushAppFsKey({ ...params(ctx, o), app: address, fsKeyFile: o.fsKeyFile }),
      );
    }),
  );

  const requester = group(program, 'requester');
  smsOptions(
    requester
      .command('push-secret')
      .description('Push a requester secret (named in deals as iexec_secrets) to the SMS, signed by you')
      .argument('<name>', 'secret name: 1-64 characters from [A-Za-z0-9_-]')
      .option('--secret-file <path>', 'file holding the secret (else stdin or a masked prompt)')
      .option('--stdin', 'read the secret from stdin'),
  ).action(
    action(async (ctx, o: SmsOpts & { secretFile?: string; stdin?: boolean }, name: string) => {
      const secret = await readSecret(ctx, { file: o.secretFile, stdin: o.stdin }, `secret ${name}`);
      pushed(
        ctx,
        `requester secret ${name}`,
        await (await sdk()).pushRequesterSecret({ ...params(ctx, o), name, secret }),
      );
    }),
  );

  const result = group(program, 'result');
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
        const { generateResultKey } = await sdk();
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
      const { pushResultKey } = await sdk();
      const r = await pushResultKey({
        ...params(ctx, o),
        ...(o.publicKeyFile ? { publicKeyFile: o.publicKeyFile } : {}),
        ...(o.update ? { update: true } : {}),
      });
      pushed(ctx, `result key ${r.publicKeyFile}`, r);
    }),
  );

  const secret = group(program, 'secret');
  const check = secret
    .command('check')
    .description('Check whether the SMS holds a secret (no value is ever shown)');
  const kinds: [SecretCheckKind, string, string][] = [
    ['dataset', '<dataset>', 'the key of a dataset'],
    ['app', '<app>', 'the developer secret of an app'],
    ['fs-key', '<app>', 'the file-system key of an app'],
    ['requester', '<requester>', 'a requester secret (give its name)'],
    ['result-key', '<beneficiary>', "a beneficiary's result-encryption key"],
    ['web2', '<owner>', 'a web2 secret (give its name)'],
  ];
  for (const [kind, arg, desc] of kinds) {
    const c = smsOptions(check.command(kind).description(`Check ${desc}`).argument(arg, 'address'), false);
    if (kind === 'requester' || kind === 'web2') c.argument('<name>', 'secret name');
    c.action(
      action(async (ctx, o: SmsOpts, address: string, name?: string) => {
        const { checkSecret } = await sdk();
        const r = await checkSecret({
          home: ctx.home,
          ...(o.smsUrl ? { smsUrl: o.smsUrl } : {}),
          ...(o.smsCa ? { smsCa: o.smsCa } : {}),
          kind,
          address,
          ...(typeof name === 'string' ? { name } : {}),
        });
        ctx.out(
          r,
          `${kind}${r.name ? ` ${r.name}` : ''} of ${r.address}: ${r.exists ? 'present' : 'absent'}`,
        );
      }),
    );
  }
}
