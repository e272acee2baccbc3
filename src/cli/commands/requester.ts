/** `sealwork requester`: push a requester secret to the SMS. */
import type { Command } from 'commander';
import { action, pushed } from '../context.js';
import { smsOptions, smsParams, type SmsOpts } from '../options.js';
import { readSecret } from '../terminal.js';

export function register(program: Command): void {
  const requester = program.command('requester').description('Requester secrets');
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
      const { pushRequesterSecret } = await import('../../sdk/sms/index.js');
      pushed(
        ctx,
        `requester secret ${name}`,
        await pushRequesterSecret({ ...smsParams(ctx, o), name, secret }),
      );
    }),
  );
}
