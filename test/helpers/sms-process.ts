/**
 * The SMS as a real child process (`sealwork sms start`, from source through tsx), for tests that
 * kill it: `kill -9` is then a real one. Resolves once the process logged `sms started` (its URL and
 * certificate), never after a fixed sleep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSmsClient, type SmsClient } from '../../src/sms-client/index.js';
import { CLI_ENTRY, ROOT } from './cli.js';

export interface SmsProcess {
  proc: ChildProcess;
  url: string;
  client: SmsClient;
  /** Everything it wrote to stderr (its JSON log lines). */
  log(): string;
  /** SIGKILL; resolves once it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM; resolves with its exit code. */
  stop(): Promise<number | null>;
}

const TSX = import.meta.resolve('tsx');

export async function startSmsProcess(o: {
  home: string;
  chainUrl: string;
  /** `--db` (a postgres:// URL); the SQLite file under the home when absent. */
  db?: string | undefined;
  args?: string[];
  timeoutMs?: number;
}): Promise<SmsProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      CLI_ENTRY,
      'sms',
      'start',
      '--port',
      '0',
      '--allow-simulation',
      ...(o.db ? ['--db', o.db] : []),
      ...(o.args ?? []),
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        SEALWORK_HOME: o.home,
        SEALWORK_CHAIN_URL: o.chainUrl,
        SEALWORK_SMS_MASTER_KEY: undefined,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const started = await new Promise<{ url: string; certPath: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`sms start did not log "sms started" within ${o.timeoutMs ?? 60_000} ms:\n${stderr}`));
    }, o.timeoutMs ?? 60_000);
    let pending = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      pending += d.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line) as { msg?: string; url?: string; certPath?: string };
        if (j.msg === 'sms started' && j.url && j.certPath) {
          clearTimeout(timer);
          resolve({ url: j.url, certPath: j.certPath });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sms start exited early (${code ?? signal}):\n${stderr}`));
    });
  });
  return {
    proc,
    url: started.url,
    client: createSmsClient(started.url, { ca: readFileSync(started.certPath) }),
    log: () => stderr,
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return (await exited).code;
    },
  };
}
