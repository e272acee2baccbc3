/** `sealwork secret check <kind>`: does the SMS hold a secret (never its value)? */
import type { Command } from 'commander';
import type { SecretCheckKind } from '../../sdk/sms/index.js';
import { action } from '../context.js';
import { smsEndpoint, smsOptions, type SmsOpts } from '../options.js';

const KINDS: [SecretCheckKind, string, string][] = [
  ['dataset', '<dataset>', 'the key of a dataset'],
  ['app', '<app>', 'the developer secret of an app'],
  ['fs-key', '<app>', 'the file-system key of an app'],
  ['requester', '<requester>', 'a requester secret (give its name)'],
  ['result-key', '<beneficiary>', "a beneficiary's result-encryption key"],
  ['web2', '<owner>', 'a web2 secret (give its name)'],
];

export function register(program: Command): void {
  const secret = program.command('secret').description('Secrets stored in the SMS');
  const check = secret
    .command('check')
    .description('Check whether the SMS holds a secret (no value is ever shown)');
  for (const [kind, arg, desc] of KINDS) {
    const c = smsOptions(check.command(kind).description(`Check ${desc}`).argument(arg, 'address'), false);
    if (kind === 'requester' || kind === 'web2') c.argument('<name>', 'secret name');
    c.action(
      action(async (ctx, o: SmsOpts, address: string, name?: string) => {
        const { checkSecret } = await import('../../sdk/sms/index.js');
        const r = await checkSecret({
          ...smsEndpoint(ctx, o),
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
