/**
 * Running anvil (from the @foundry-rs/anvil npm package: a real local EVM node, no download at
 * run time) on 127.0.0.1. Used by `sealwork chain start` and by the test harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { SealworkError } from '../errors.js';

const require = createRequire(import.meta.url);

/** Path of the native anvil binary shipped by @foundry-rs/anvil-<platform>-<arch>. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  const candidates = [`@foundry-rs/anvil-${process.platform}-${arch}/package.json`];
  for (const c of candidates) {
    try {
      const p = join(dirname(require.resolve(c)), 'bin', exe);
      if (existsSync(p)) return p;
    } catch {
      /* try the next */
    }
  }
  throw new SealworkError('ANVIL_NOT_FOUND', 'The anvil binary of @foundry-rs/anvil is not installed.', {
    hint: 'Run `npm install` (the package ships anvil for linux/macOS/windows on x64 and arm64).',
    details: { platform: process.platform, arch: process.arch },
  });
}

/** A free TCP port on 127.0.0.1 (asked from the OS). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Wait until a JSON-RPC endpoint answers eth_chainId; returns the chain id. */
export async function waitForRpc(url: string, timeoutMs = 15_000, isAlive?: () => boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (isAlive && !isAlive()) break;
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      const j = (await r.json()) as { result?: string };
      if (j.result) return Number(BigInt(j.result));
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SealworkError('CHAIN_UNREACHABLE', `The chain at ${url} did not answer.`, {
    hint: 'Check the URL, or start the embedded chain with `sealwork chain start`.',
    details: { url },
    cause: last,
  });
}

export interface SpawnAnvilOptions {
  port?: number;
  /** Load state from and dump state to this file (anvil --state), so the chain survives restarts. */
  statePath?: string;
  /** Start from this saved state only (anvil --load-state), dumping nothing. */
  loadStatePath?: string;
  /** Seconds between state dumps while running (default 2 when statePath is set). */
  stateInterval?: number;
  /** Run detached from this process (survives its exit); output goes to logFile. */
  detached?: boolean;
  logFile?: string;
  chainId?: number;
}

export interface AnvilProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** SIGTERM (anvil dumps its state), then wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * The environment anvil runs with: ours without any SEALWORK_* variable, so a long-lived detached
 * chain never holds SEALWORK_PRIVATE_KEY or a wallet password (e.g. in /proc/<pid>/environ).
 */
export function anvilEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('SEALWORK_')));
}

/** The port anvil says it listens on (`Listening on 127.0.0.1:<port>` on its stdout). */
function announcedPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const done = (e?: Error, port?: number) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.stdout?.resume(); // what it prints afterwards is not read
      if (e) reject(e);
      else resolve(port!);
    };
    const onData = (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-4096);
      const m = /Listening on [^\s:]+:(\d+)/.exec(out);
      if (m) done(undefined, Number(m[1]));
    };
    const onExit = () => done(new Error(`anvil exited before listening: ${out.slice(-300)}`));
    const timer = setTimeout(() => done(new Error('anvil did not say where it listens')), timeoutMs);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function spawnAnvil(o: SpawnAnvilOptions = {}): Promise<AnvilProcess> {
  // No port asked for (the test chains): anvil binds port 0 and says which port it got. A port
  // picked beforehand (freePort) could be taken by another process starting at the same time —
  // two test files would then both talk to the one anvil that won it.
  const announce = o.port === undefined && !o.logFile && !o.detached;
  let port = o.port ?? (announce ? 0 : await freePort());
  const args = ['--host', '127.0.0.1', '--port', String(port)];
  if (!announce) args.push('--silent');
  if (o.chainId !== undefined) args.push('--chain-id', String(o.chainId));
  if (o.statePath) args.push('--state', o.statePath, '--state-interval', String(o.stateInterval ?? 2));
  else if (o.loadStatePath) args.push('--load-state', o.loadStatePath);
  let fd: number | undefined;
  if (o.logFile) fd = openSync(o.logFile, 'a');
  const child = spawn(anvilBinary(), args, {
    env: anvilEnv(),
    detached: o.detached ?? false,
    stdio: ['ignore', fd ?? (announce ? 'pipe' : 'ignore'), fd ?? 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  let exited = child.exitCode !== null;
  child.on('exit', () => (exited = true));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  let url = `http://127.0.0.1:${port}`;
  try {
    if (announce) {
      port = await Promise.race([announcedPort(child, 20_000), spawnError]);
      url = `http://127.0.0.1:${port}`;
    }
    await Promise.race([waitForRpc(url, 20_000, () => !exited), spawnError]);
  } catch (e) {
    child.kill('SIGKILL');
    if (o.logFile) {
      try {
        stderr += readFileSync(o.logFile, 'utf8').slice(-500);
      } catch {
        /* no log */
      }
    }
    throw new SealworkError('ANVIL_START_FAILED', `anvil did not start on port ${port}.`, {
      hint: 'Is the port already in use? Choose another with --port.',
      details: { port, stderr: stderr.slice(-500) },
      cause: e,
    });
  }
  if (o.detached) child.unref();
  const pid = child.pid!;
  return {
    url,
    port,
    pid,
    child,
    stop: () => stopProcess(pid, child),
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM a process we started (anvil dumps state on SIGTERM), wait for it to exit, SIGKILL after 10 s. */
export async function stopProcess(pid: number, child?: ChildProcess): Promise<void> {
  if (child && child.exitCode !== null) return;
  if (!isRunning(pid)) return;
  const exited = child
    ? new Promise<void>((r) => child.once('exit', () => r()))
    : (async () => {
        while (isRunning(pid)) await new Promise((r) => setTimeout(r, 50));
      })();
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export { isRunning as isProcessRunning };
