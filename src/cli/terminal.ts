/** Terminal and process I/O of the CLI: masked prompts, secrets from files or stdin, signals. */
import { promises as fs } from 'node:fs';
import { SealworkError, fsError } from '../errors.js';
import type { CliContext } from './context.js';

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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A secret value from a file, stdin, or a masked prompt — never from argv. One trailing newline
 * (as `echo` and editors add) is dropped.
 */
export async function readSecret(
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

/**
 * Wait for SIGINT/SIGTERM, then run `stop` once. The listeners stay installed until `stop` has
 * finished, so a repeated or re-raised signal cannot kill the process mid-shutdown.
 */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = () => {
      if (stopping) return;
      stopping = true;
      void stop().finally(() => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
        resolve();
      });
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
