/** Options shared by several command groups, and the SDK parameters they become. */
import type { Command } from 'commander';
import type { ChainParameters } from '../sdk/chain/common.js';
import type { SmsEndpointParameters, SmsSignerParameters } from '../sdk/sms/index.js';
import type { CliContext } from './context.js';
import { promptSecret } from './terminal.js';

/** Accumulate a repeatable option into a list. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** An on-chain timestamp in seconds as ISO 8601 (`-` for none). */
export const when = (t: bigint) => (t === 0n ? '-' : new Date(Number(t) * 1000).toISOString());

export interface ChainOpts {
  chainUrl?: string;
  as?: string;
}

/** --chain-url and --as on a command that talks to the chain. */
export function chainOptions(cmd: Command): Command {
  return cmd
    .option('--chain-url <url>', 'JSON-RPC endpoint (env SEALWORK_CHAIN_URL, default: the embedded chain)')
    .option(
      '--as <name>',
      'sign as a named dev account of the embedded chain: app-dev, dataset-owner, workerpool, requester, worker',
    );
}

/** SDK chain parameters from the context and options (password prompt only on a terminal). */
export function chainParams(ctx: CliContext, o: ChainOpts): ChainParameters {
  return {
    home: ctx.home,
    chainUrl: o.chainUrl,
    as: o.as,
    promptPassword:
      ctx.interactive && process.stdin.isTTY ? () => promptSecret('wallet password: ') : undefined,
  };
}

export interface SmsOpts {
  smsUrl?: string;
  smsCa?: string;
  smsMrenclave?: string[];
  smsMrsigner?: string[];
  smsAllowSimulation?: boolean;
  as?: string;
}

/** The pin of the SMS a client trusts (checked before anything is sent). */
export function smsPinOptions(cmd: Command): Command {
  return cmd
    .option(
      '--sms-mrenclave <hex>',
      'trust only an SMS with this MrEnclave (repeatable; env SEALWORK_SMS_MRENCLAVE; default: the local SMS record, trust on first use)',
      collect,
    )
    .option(
      '--sms-mrsigner <hex>',
      'trust an SMS signed by this MrSigner (repeatable; env SEALWORK_SMS_MRSIGNER)',
      collect,
    )
    .option(
      '--sms-allow-simulation',
      'accept an SMS on the simulated platform (env SEALWORK_SMS_ALLOW_SIMULATION; no hardware protection)',
    );
}

/** --sms-url and --sms-ca on a command that talks to the SMS, and --as when it signs. */
export function smsOptions(cmd: Command, signer = true): Command {
  cmd
    .option('--sms-url <url>', 'SMS URL (env SEALWORK_SMS_URL, default: the local SMS)')
    .option(
      '--sms-ca <file>',
      'PEM certificate to trust (env SEALWORK_SMS_CA, default: the local SMS certificate)',
    );
  smsPinOptions(cmd);
  if (signer)
    cmd.option(
      '--as <name>',
      'sign as a named dev account of the embedded chain (else SEALWORK_PRIVATE_KEY or the wallet)',
    );
  return cmd;
}

/** SDK parameters of an SMS call that reads only. */
export function smsEndpoint(ctx: CliContext, o: SmsOpts): SmsEndpointParameters {
  return {
    home: ctx.home,
    ...(o.smsUrl ? { smsUrl: o.smsUrl } : {}),
    ...(o.smsCa ? { smsCa: o.smsCa } : {}),
    ...(o.smsMrenclave?.length ? { smsMrenclave: o.smsMrenclave } : {}),
    ...(o.smsMrsigner?.length ? { smsMrsigner: o.smsMrsigner } : {}),
    ...(o.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
  };
}

/** SDK parameters of an SMS call that signs (password prompt only on a terminal). */
export function smsParams(ctx: CliContext, o: SmsOpts): SmsSignerParameters {
  const c = chainParams(ctx, { as: o.as });
  return {
    ...smsEndpoint(ctx, o),
    ...(o.as ? { as: o.as } : {}),
    ...(c.promptPassword ? { promptPassword: c.promptPassword } : {}),
  };
}
