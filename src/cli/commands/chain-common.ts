import type { Command } from 'commander';
import type { ChainParameters } from '../../sdk/chain/common.js';
import type { CliContext } from '../context.js';

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

/** Read a secret from the terminal without echoing it. */
export function promptSecret(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    if (!stdin.isTTY) {
      reject(new Error('not a terminal'));
      return;
    }
    process.stderr.write(question);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          process.stderr.write('\n');
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          if (value.length > 0) {
            value = value.slice(0, -1);
            process.stderr.write('\b \b');
          }
        } else {
          value += ch;
          process.stderr.write('*');
        }
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
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
