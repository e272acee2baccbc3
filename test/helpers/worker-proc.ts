/**
 * A real `sealwork worker start --json` child process for the recovery and fault tests (so that
 * SIGKILL is a real kill -9), with waits on markers instead of fixed sleeps: a worker event on its
 * stdout, a line on its stderr, a file (`SEALWORK_TEST_PAUSE_AT`'s marker, a run folder).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Address } from 'viem';
import { CLI_ENTRY, ROOT } from './cli.js';
import { waitUntil } from './wait.js';

export { waitUntil };

export interface WorkerEventLine {
  kind: string;
  taskId?: string;
  detail?: string;
  cause?: { code: string; message: string };
}

export interface WorkerProc {
  child: ChildProcess;
  pid: number;
  events: WorkerEventLine[];
  stderr(): string;
  /** The first event matching, once it is printed. */
  waitForEvent(
    match: (e: WorkerEventLine) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<WorkerEventLine>;
  waitFor(kind: string, taskId: string, timeoutMs?: number): Promise<WorkerEventLine>;
  /**
   * With `SEALWORK_TEST_PAUSE_AT=<point>`: the task id the worker froze at, once it wrote its
   * marker (`<home>/worker/test-paused-<point>`). The process is then blocked: kill it.
   */
  waitPaused(point: string, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface WorkerProcOptions {
  home: string;
  chainUrl: string;
  workerpool: Address;
  /** Extra `worker start` options (e.g. `--slots 3`). */
  args?: string[];
  /** Extra environment (e.g. SEALWORK_TEST_PAUSE_AT). */
  env?: NodeJS.ProcessEnv;
}

export function startWorkerProcess(o: WorkerProcOptions): WorkerProc {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI_ENTRY,
      '--home',
      o.home,
      '--json',
      'worker',
      'start',
      '--workerpool',
      o.workerpool,
      '--as',
      'workerpool',
      '--worker-key-as',
      'worker',
      '--app-image-root',
      join(o.home, 'apps'),
      ...(o.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, SEALWORK_CHAIN_URL: o.chainUrl, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const events: WorkerEventLine[] = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = (JSON.parse(line) as { event?: WorkerEventLine }).event;
        if (e) events.push(e);
      } catch {
        /* not an event line */
      }
    }
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const dead = (what: string) =>
    gone ? new Error(`the worker exited before ${what}; stderr: ${stderr.slice(-2000)}`) : undefined;
  const waitForEvent: WorkerProc['waitForEvent'] = (match, what, timeoutMs = 60_000) =>
    waitUntil(
      () => {
        const e = events.find(match);
        if (e) return e;
        const err = dead(what);
        if (err) throw err;
        return undefined;
      },
      `${what}; stderr: ${stderr.slice(-2000)}`,
      timeoutMs,
    );
  return {
    child,
    pid: child.pid!,
    events,
    stderr: () => stderr,
    waitForEvent,
    waitFor: (kind, taskId, timeoutMs) =>
      waitForEvent(
        (e) => e.kind === kind && e.taskId?.toLowerCase() === taskId.toLowerCase(),
        `a ${kind} event for ${taskId}`,
        timeoutMs,
      ),
    waitPaused(point, timeoutMs = 60_000) {
      const marker = join(o.home, 'worker', `test-paused-${point}`);
      return waitUntil(
        () => {
          if (existsSync(marker)) {
            const id = readFileSync(marker, 'utf8').trim();
            if (id) return id;
          }
          const err = dead(`pausing at ${point}`);
          if (err) throw err;
          return undefined;
        },
        `the worker to pause at ${point}; stderr: ${stderr.slice(-2000)}`,
        timeoutMs,
      );
    },
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** The enclave run folders (in /dev/shm: decrypted dataset, app output) that process `pid` owns. */
export function runFoldersOf(pid: number | undefined): string[] {
  return readdirSync('/dev/shm').filter((d) => {
    try {
      return (
        d.startsWith('sealwork-run-') &&
        (JSON.parse(readFileSync(join('/dev/shm', d, 'owner.json'), 'utf8')) as { pid?: number }).pid === pid
      );
    } catch {
      return false;
    }
  });
}

/** A file named `name` in a run folder of process `pid` (e.g. what the app wrote in its /iexec_out). */
export function runFile(pid: number | undefined, name: string): string | undefined {
  const find = (dir: string, depth: number): string | undefined => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const e of entries) {
      if (e.isFile() && e.name === name) return join(dir, e.name);
      if (e.isDirectory() && depth > 0) {
        const f = find(join(dir, e.name), depth - 1);
        if (f) return f;
      }
    }
    return undefined;
  };
  for (const d of runFoldersOf(pid)) {
    const f = find(join('/dev/shm', d), 3);
    if (f) return f;
  }
  return undefined;
}

/**
 * An app that says it runs and then waits to be let go: it writes `.started` in its /iexec_out
 * and holds until `.go` appears there (written by the test from the host, see `releaseApp`),
 * then writes its output (both markers stay in /iexec_out, outside the deterministic output). Lets a test act while the app runs, with no timing guess.
 */
export const HANDSHAKE_APP_SCRIPT = `#!/bin/sh
out="\${IEXEC_OUT:-/iexec_out}"
echo started > "$out/.started"
i=0
while [ ! -e "$out/.go" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
echo "hello from the enclave" > "$out/result.txt"
printf '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$out/computed.json"
`;

/** Wait until the handshake app runs in a run of `pid`: the path of its `.started` marker. */
export function appStarted(pid: number, timeoutMs = 60_000): Promise<string> {
  return waitUntil(() => runFile(pid, '.started'), `the app to start in a run of ${pid}`, timeoutMs);
}

/** Let the waiting handshake app of a run of `pid` go on. */
export async function releaseApp(pid: number, timeoutMs = 60_000): Promise<void> {
  const started = await appStarted(pid, timeoutMs);
  writeFileSync(join(dirname(started), '.go'), 'go\n');
}
