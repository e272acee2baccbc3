import type { Command } from 'commander';
import { resolveHome } from '../sdk/home.js';

/** What every command action gets: the global options, resolved. */
export interface CliContext {
  json: boolean;
  home: string;
  /** True when stderr is an interactive terminal and --json is off (progress bars, prompts). */
  interactive: boolean;
  /** Print a result: JSON on stdout with --json, else the human lines. */
  out(json: unknown, human: string | string[] | (() => string | string[])): void;
  /** Informational line on stderr (suppressed with --json). */
  info(line: string): void;
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  return value;
}

export function contextOf(cmd: Command): CliContext {
  const g = cmd.optsWithGlobals() as { json?: boolean; home?: string };
  const json = Boolean(g.json);
  return {
    json,
    home: resolveHome(g.home),
    interactive: !json && Boolean(process.stderr.isTTY),
    out(value, human) {
      if (json) {
        process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
        return;
      }
      const h = typeof human === 'function' ? human() : human;
      process.stdout.write(`${(Array.isArray(h) ? h : [h]).join('\n')}\n`);
    },
    info(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}

/**
 * Wrap a command action: resolves the context and passes positional arguments and options.
 * Errors propagate to `run()`, which prints them.
 */
export function action<Args extends unknown[], Opts>(
  fn: (ctx: CliContext, opts: Opts, ...args: Args) => Promise<void> | void,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const cmd = raw[raw.length - 1] as Command;
    const opts = raw[raw.length - 2] as Opts;
    const args = raw.slice(0, raw.length - 2) as Args;
    await fn(contextOf(cmd), opts, ...args);
  };
}

/** The line (or JSON) every push of a secret to the SMS prints. */
export function pushed(
  ctx: CliContext,
  what: string,
  r: {
    sms: string;
    signer: string;
    target: string;
    smsAttestation?: { mrEnclave: string; tcbStatus: string; simulated: boolean; pinSource: string };
  },
) {
  const a = r.smsAttestation;
  ctx.out({ pushed: true, ...r }, [
    `${what} pushed to ${r.sms} (signed by ${r.signer})`,
    ...(a
      ? [
          `SMS attested before sending: MrEnclave ${a.mrEnclave}, TCB ${a.tcbStatus}${a.simulated ? ', SIMULATED platform' : ''} (pin from ${a.pinSource})`,
        ]
      : []),
  ]);
}
