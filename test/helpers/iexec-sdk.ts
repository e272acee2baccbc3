/**
 * The real `iexec` SDK in a child process (test/e2e/iexec-sdk-driver.ts), called from a test:
 * `const sdk = await startIexecSdk(cfg, caFiles); await sdk.call(key, 'order.matchOrders', …)`.
 * A child, because Node's fetch reads NODE_EXTRA_CA_CERTS (the stack's self-signed SMS and storage
 * certificates) only at start.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface IexecSdkConfig {
  chainUrl: string;
  hubAddress: string;
  smsURL: string;
  ipfsGatewayURL: string;
  iexecGatewayURL?: string;
}

export interface IexecSdk {
  /** Call an SDK method (`module.method`) signing with `key`; rejects with the SDK's message. */
  call<T = unknown>(key: string, call: string, ...args: unknown[]): Promise<T>;
  stop(): void;
}

export const b64 = (b: Buffer) => ({ $b64: b.toString('base64') });
export const fromB64 = (v: unknown) => Buffer.from((v as { $b64: string }).$b64, 'base64');

export function startIexecSdk(cfg: IexecSdkConfig, caFile: string): IexecSdk {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/e2e/iexec-sdk-driver.ts'), JSON.stringify(cfg)],
    { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (process.env.IEXEC_SDK_DEBUG) process.stderr.write(d);
  });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let m: { id: number; result?: unknown; error?: string };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return; // not an answer (a library's log line)
    }
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.result);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`iexec SDK driver exited (${code}): ${stderr}`));
    waiting.clear();
  });
  let next = 0;
  return {
    call<T>(key: string, call: string, ...args: unknown[]) {
      const id = ++next;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin.write(`${JSON.stringify({ id, key, call, args })}\n`);
      });
    },
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
}
