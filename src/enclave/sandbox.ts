/**
 * The bubblewrap sandbox itself: its arguments, the rlimits, the seccomp filter, the uid it runs
 * as, and the process supervision (timeout, abort, output capture, result-size watchdog).
 * docs/enclave.md lists every setting used here; keep the two in step.
 */
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';
import { treeUsage } from './output.js';
import type { SandboxIdentity } from './rundir.js';
import type { SandboxLimits } from './sandbox-limits.js';
import { seccompProgram } from './seccomp.js';

let toolsChecked: { bwrap: string; prlimit: string } | undefined;
export function sandboxTools(): { bwrap: string; prlimit: string } {
  if (toolsChecked) return toolsChecked;
  const find = (name: string, pkg: string) => {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      throw new SealworkError(
        'SANDBOX_UNAVAILABLE',
        `${name} is not installed; the enclave sandbox needs it.`,
        {
          hint: `Install it: apt-get install -y ${pkg}.`,
        },
      );
    }
  };
  toolsChecked = { bwrap: find('bwrap', 'bubblewrap'), prlimit: find('prlimit', 'util-linux') };
  return toolsChecked;
}

let tools: { nsenter: string; setpriv: string } | undefined;

/** nsenter and setpriv (util-linux), and root: what joining a namespace and dropping the uid need. */
export function shieldTools(): { nsenter: string; setpriv: string } {
  if (tools) return tools;
  const unavailable = (why: string, hint: string) =>
    new SealworkError('NETWORK_SHIELD_UNAVAILABLE', `The network shield cannot run here: ${why}.`, { hint });
  if (process.getuid?.() !== 0)
    throw unavailable(
      'it needs root (to join the run to its network namespace and run it as a dedicated uid)',
      'Run the worker (or `sealwork app exec`) as root, or build the app without --egress.',
    );
  const find = (name: string) => {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      throw unavailable(`${name} is not installed`, 'Install it: apt-get install -y util-linux.');
    }
  };
  tools = { nsenter: find('nsenter'), setpriv: find('setpriv') };
  return tools;
}

export interface SandboxMounts {
  /** Host folder bound read-only at / (the unpacked image). */
  root: string;
  /** Read-only binds over the root (encrypted regions from memory), shortest first. */
  binds: { src: string; dest: string }[];
  /** Host folder bound read-only at /iexec_in. */
  input: string;
  /** Host folder bound writable at /iexec_out. */
  output: string;
  workingDir: string;
}

/**
 * bwrap's arguments: namespaces, mounts, identity. Every flag is explained in docs/enclave.md.
 * `shareNet`: keep the network namespace bwrap is started in (a network-shielded run, which was
 * joined to its shield's namespace first); otherwise a new one with only loopback.
 */
export function bwrapArgs(m: SandboxMounts, limits: SandboxLimits, shareNet = false): string[] {
  const args = [
    '--unshare-all',
    ...(shareNet ? ['--share-net'] : []),
    '--unshare-user',
    '--uid',
    '0',
    '--gid',
    '0',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--hostname',
    'sealwork-enclave',
    '--ro-bind',
    m.root,
    '/',
  ];
  for (const b of m.binds) args.push('--ro-bind', b.src, b.dest);
  args.push(
    '--proc',
    '/proc',
    '--remount-ro',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(limits.shmBytes),
    '--tmpfs',
    '/dev/shm',
    '--remount-ro',
    '/dev',
    '--size',
    String(limits.tmpBytes),
    '--tmpfs',
    '/tmp',
    '--ro-bind',
    m.input,
    '/iexec_in',
    '--bind',
    m.output,
    '/iexec_out',
    '--seccomp',
    '3',
    '--chdir',
    m.workingDir || '/',
  );
  return args;
}

/** Processes the uid already has (counted against RLIMIT_NPROC when it is not a dedicated uid). */
async function processesOf(uid: number): Promise<number> {
  let n = 0;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = await fs.stat(`/proc/${pid}`).catch(() => null);
    if (st?.uid === uid) n++;
  }
  return n;
}

/** prlimit's arguments: every bound of the run, core dumps off. */
export async function prlimitArgs(limits: SandboxLimits, who: SandboxIdentity): Promise<string[]> {
  const nproc = who.dedicated ? limits.processes : limits.processes + (await processesOf(who.uid));
  return [
    `--as=${limits.addressSpaceBytes}`,
    `--nproc=${nproc}`,
    `--nofile=${limits.openFiles}`,
    `--fsize=${limits.fileBytes}`,
    `--cpu=${limits.cpuSeconds}`,
    '--core=0',
  ];
}

/** Collects at most `max` bytes of a stream. */
function capture(max: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  return {
    push(c: Buffer) {
      const take = c.subarray(0, Math.max(0, max - size));
      if (take.length < c.length) truncated = true;
      if (take.length > 0) chunks.push(take);
      size += take.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => truncated,
  };
}

export interface SandboxRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Set when the watchdog stopped the app for an oversized /iexec_out (unmounted outputs only). */
  outputOverflow: boolean;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

/**
 * Start the app under prlimit + bwrap as the run's uid, and supervise it. `watchOutput` polls the
 * size of /iexec_out when it is not a sized tmpfs (sealwork not running as root).
 */
export async function runSandbox(p: {
  mounts: SandboxMounts;
  limits: SandboxLimits;
  who: SandboxIdentity;
  argv: string[];
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  seccompFile: string;
  watchOutput: boolean;
  /** A network-shielded run: the namespace to join (network/netns.ts); needs a dedicated uid. */
  netns?: string;
  signal?: AbortSignal;
}): Promise<SandboxRun> {
  const { bwrap, prlimit } = sandboxTools();
  await fs.writeFile(p.seccompFile, await seccompProgram(), { mode: 0o600 });
  const filter = await fs.open(p.seccompFile, 'r');
  const args = [
    ...(await prlimitArgs(p.limits, p.who)),
    bwrap,
    ...bwrapArgs(p.mounts, p.limits, p.netns !== undefined),
    '--',
    ...p.argv,
  ];
  const [command, argv, asUid] = p.netns
    ? shieldedCommand(p.netns, p.who, prlimit, args)
    : [prlimit, args, true];
  const out = capture(p.maxOutputBytes);
  const err = capture(p.maxOutputBytes);
  try {
    const r = await new Promise<Omit<SandboxRun, keyof ReturnType<typeof texts>>>((res, rej) => {
      const child = spawn(command, argv, {
        env: p.env,
        stdio: ['ignore', 'pipe', 'pipe', filter.fd],
        detached: true,
        ...(asUid && p.who.dedicated ? { uid: p.who.uid, gid: p.who.gid } : {}),
      });
      let timedOut = false;
      let outputOverflow = false;
      const killAll = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killAll();
      }, p.timeoutMs);
      const watch = p.watchOutput
        ? setInterval(() => {
            void treeUsage(p.mounts.output).then((u) => {
              if (u.bytes > p.limits.resultBytes || u.entries > p.limits.resultEntries) {
                outputOverflow = true;
                killAll();
              }
            });
          }, 200)
        : undefined;
      const onAbort = () => killAll();
      p.signal?.addEventListener('abort', onAbort, { once: true });
      if (p.signal?.aborted) killAll();
      const onExit = () => killAll();
      process.once('exit', onExit);
      child.stdout?.on('data', (c: Buffer) => out.push(c));
      child.stderr?.on('data', (c: Buffer) => err.push(c));
      const done = () => {
        clearTimeout(timer);
        if (watch) clearInterval(watch);
        p.signal?.removeEventListener('abort', onAbort);
        process.removeListener('exit', onExit);
      };
      child.on('error', (e) => {
        done();
        rej(new SealworkError('SANDBOX_FAILED', `Cannot start the sandbox: ${e.message}`, { cause: e }));
      });
      child.on('close', (code, signal) => {
        done();
        killAll();
        res({ code, signal, timedOut, outputOverflow });
      });
    });
    return { ...r, ...texts(out, err) };
  } finally {
    await filter.close();
  }
}

/**
 * A shielded run starts as root: `nsenter --net` joins the shield's namespace (which needs
 * CAP_SYS_ADMIN), then `setpriv` drops to the run's dedicated uid, with no supplementary groups,
 * before prlimit and bwrap.
 */
function shieldedCommand(
  netns: string,
  who: SandboxIdentity,
  prlimit: string,
  args: string[],
): [string, string[], false] {
  if (!who.dedicated)
    throw new SealworkError(
      'NETWORK_SHIELD_UNAVAILABLE',
      'A network-shielded run needs a dedicated uid (sealwork running as root).',
      {
        hint: 'Run as root, or build the app without --egress.',
      },
    );
  const { nsenter, setpriv } = shieldTools();
  return [
    nsenter,
    [
      `--net=${netns}`,
      '--',
      setpriv,
      `--reuid=${who.uid}`,
      `--regid=${who.gid}`,
      '--clear-groups',
      '--',
      prlimit,
      ...args,
    ],
    false,
  ];
}

function texts(out: ReturnType<typeof capture>, err: ReturnType<typeof capture>) {
  return {
    stdout: out.text(),
    stderr: err.text(),
    stdoutTruncated: out.truncated(),
    stderrTruncated: err.truncated(),
  };
}

/** True when every folder above `path` can be searched by any uid (the dedicated uid must reach it). */
export async function reachableByOthers(path: string): Promise<boolean> {
  let dir = path;
  for (;;) {
    const st = await fs.stat(dir).catch(() => null);
    if (!st || (st.mode & 0o001) === 0) return false;
    const up = join(dir, '..');
    if (up === dir) return true;
    dir = up;
  }
}
