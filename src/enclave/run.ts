/**
 * Running a protected image in the simulated enclave: a bubblewrap sandbox.
 *
 * Before anything starts, the FSPF is authenticated with the given key and tag, every protected
 * file is checked, and files of encrypted regions are decrypted into a private folder under
 * /dev/shm (memory-backed; removed afterwards). The sandbox then gets:
 *   - the image root read-only (`--ro-bind`), encrypted regions bound over it from /dev/shm;
 *   - `--unshare-all` (own network namespace with only loopback, own PID/IPC/UTS/user/cgroup
 *     namespaces), `--cap-drop ALL`, `--new-session`, `--die-with-parent`;
 *   - a private /tmp (tmpfs), /proc, a minimal /dev;
 *   - /iexec_in read-only, /iexec_out writable (the only writable host folder);
 *   - iExec's environment variables, passed through the process environment (never argv);
 *   - an address-space limit (RLIMIT_AS through `prlimit --as`), core dumps off;
 *   - a wall-clock timeout that kills the whole process group (the PID namespace dies with it);
 *   - stdout/stderr captured up to a bound.
 * This is a SIMULATION: the host (root, or anyone who can read /dev/shm or ptrace) sees everything.
 */
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { SealworkError, fsError } from '../errors.js';
import { loadProtectedImage, shmBase, type LoadedImage } from './build.js';
import { parseFsKeys, readFsKeyFile, regionOf, walkRoot, type FsKeys } from './fspf.js';
import { components, imagePath, safeEqualHex, splitCommand } from './util.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;
/** How the memory limit is enforced (reported in results and docs). */
export const MEMORY_LIMIT_MECHANISM =
  'RLIMIT_AS via prlimit --as (address space of every process in the sandbox)';

export interface RunEnclaveParameters {
  /** A protected image (built by `buildApp`). */
  image: string;
  /** FSPF key and tag (hex): from the fingerprint, released by the SMS after attestation. */
  fspfKey: string;
  fspfTag: string;
  /** Expected MrEnclave (hex): refuse to start when the image measures differently. */
  mrenclave?: string;
  /** The file-system key file's content (JSON) or parsed keys; required for encrypted regions. */
  fsKey?: string | FsKeys;
  /** Path of the file-system key file (alternative to `fsKey`). */
  fsKeyFile?: string;
  /** Host folder mounted read-only at /iexec_in. */
  inDir?: string;
  /** Host folder mounted writable at /iexec_out (created if missing). */
  outDir: string;
  /** Arguments appended to the entrypoint (argv, or a command-line string). */
  args?: string[] | string;
  /** Extra environment (iExec variables etc.); IEXEC_IN / IEXEC_OUT are fixed. */
  env?: Record<string, string>;
  /** Wall-clock limit (default 60 s). */
  timeoutMs?: number;
  /** Address-space limit in bytes (default heap + threads × stack of the enclave). */
  memoryBytes?: number;
  /**
   * Extra read-only files placed in /iexec_in from memory (e.g. a decrypted dataset): written only
   * to a private tmpfs folder under /dev/shm, bound into the sandbox, and removed afterwards.
   */
  files?: { path: string; data: Buffer }[];
  /** Bound of the captured stdout and stderr, each (default 1 MiB). */
  maxOutputBytes?: number;
  /** Scratch folder for the unpacked image (default the OS temp folder). */
  workDir?: string;
  signal?: AbortSignal;
}

export interface RunEnclaveReturnType {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  mrenclave: string;
  fingerprint: string;
  /** Always true: no SGX; the host can read the enclave's memory and files. */
  simulated: true;
  memoryLimit: { bytes: number; mechanism: string };
}

let toolsChecked: { bwrap: string; prlimit: string } | undefined;
function tools(): { bwrap: string; prlimit: string } {
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

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Names the caller may not set: they would change which program runs or what it loads (PATH,
 * LD_*) — so the program measured into MrEnclave would not be the one executed — or they are
 * fixed by the runtime.
 */
const RESERVED_ENV = /^(PATH|LD_[A-Z0-9_]*|IEXEC_IN|IEXEC_OUT|SCONE_MODE|SEALWORK_SIMULATED)$/;

/** iExec's environment for one task (the worker passes the result as `env`). */
export function iexecEnv(p: {
  taskId?: string;
  datasetFilename?: string;
  appDeveloperSecret?: string;
  requesterSecrets?: Record<number, string>;
  inputFiles?: string[];
  botSize?: number;
  botFirstIndex?: number;
  botTaskIndex?: number;
}): Record<string, string> {
  const env: Record<string, string> = {};
  if (p.taskId) env.IEXEC_TASK_ID = p.taskId;
  if (p.datasetFilename) env.IEXEC_DATASET_FILENAME = p.datasetFilename;
  if (p.appDeveloperSecret !== undefined) env.IEXEC_APP_DEVELOPER_SECRET = p.appDeveloperSecret;
  for (const [n, v] of Object.entries(p.requesterSecrets ?? {})) env[`IEXEC_REQUESTER_SECRET_${n}`] = v;
  const inputs = p.inputFiles ?? [];
  env.IEXEC_INPUT_FILES_NUMBER = String(inputs.length);
  inputs.forEach((f, i) => (env[`IEXEC_INPUT_FILE_NAME_${i + 1}`] = f));
  env.IEXEC_BOT_SIZE = String(p.botSize ?? 1);
  env.IEXEC_BOT_FIRST_INDEX = String(p.botFirstIndex ?? 0);
  env.IEXEC_BOT_TASK_INDEX = String(p.botTaskIndex ?? 0);
  return env;
}

/** Collects at most `max` bytes of a stream. */
function capture(max: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  return {
    push(c: Buffer) {
      if (size >= max) {
        truncated = true;
        return;
      }
      const take = c.subarray(0, max - size);
      if (take.length < c.length) truncated = true;
      chunks.push(take);
      size += take.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => truncated,
  };
}

async function realDir(path: string, what: string): Promise<string> {
  const p = resolve(path);
  const st = await fs.lstat(p).catch((e) => {
    throw fsError(e, p, `use ${what}`);
  });
  if (!st.isDirectory())
    throw new SealworkError('NOT_A_DIRECTORY', `${what} ${p} is not a folder.`, {
      hint: 'Give a folder.',
      details: { path: p },
    });
  return p;
}

/** Make `path` (image path) a real directory in `root`, replacing links or files (staging copy only). */
async function ensureMountPoint(root: string, path: string): Promise<void> {
  let host = root;
  for (const part of components(path)) {
    host = join(host, part);
    const st = await fs.lstat(host).catch(() => null);
    if (st && !st.isDirectory()) await fs.rm(host, { recursive: true, force: true });
    if (!st || !st.isDirectory()) await fs.mkdir(host, { mode: 0o755 });
  }
}

/** Run the entrypoint of a protected image in the sandbox. Refuses to start on any FSPF mismatch. */
export async function runEnclave(p: RunEnclaveParameters): Promise<RunEnclaveReturnType> {
  const started = Date.now();
  const { bwrap, prlimit } = tools();
  const fsKeys: FsKeys | undefined =
    p.fsKey !== undefined ? parseFsKeys(p.fsKey) : p.fsKeyFile ? await readFsKeyFile(p.fsKeyFile) : undefined;
  const outDir = resolve(p.outDir);
  await fs.mkdir(outDir, { recursive: true }).catch((e) => {
    throw fsError(e, outDir, 'create output folder');
  });
  await realDir(outDir, 'output folder');
  const inDir = p.inDir ? await realDir(p.inDir, 'input folder') : undefined;
  const extraArgs = p.args === undefined ? [] : Array.isArray(p.args) ? p.args : splitCommand(p.args);
  for (const k of Object.keys(p.env ?? {}))
    if (!ENV_NAME.test(k))
      throw new SealworkError('ENV_INVALID', `Invalid environment variable name "${k}".`, {
        hint: 'Use letters, digits and _.',
      });
    else if (RESERVED_ENV.test(k))
      throw new SealworkError('ENV_RESERVED', `The environment variable ${k} cannot be set by the caller.`, {
        hint: 'PATH and LD_* come from the image (authenticated by the FSPF); IEXEC_IN, IEXEC_OUT and SCONE_MODE are fixed by the runtime.',
        details: { name: k },
      });
  const memFiles = (p.files ?? []).map((f) => ({
    path: imagePath(f.path, 'INPUT_PATH_INVALID'),
    data: f.data,
  }));
  for (const f of memFiles)
    if (f.path === '/')
      throw new SealworkError('INPUT_PATH_INVALID', 'An in-memory input file has an empty path.', {
        hint: 'Give a file name.',
      });

  const shm = await fs.mkdtemp(join(await shmBase(), 'sealwork-enclave-'));
  await fs.chmod(shm, 0o700);
  const encDir = join(shm, 'enc');
  const inMem = join(shm, 'in');
  await fs.mkdir(encDir, { mode: 0o700 });
  let img: LoadedImage | undefined;
  try {
    img = await loadProtectedImage({
      image: p.image,
      fspfKey: p.fspfKey.toLowerCase().replace(/^0x/, ''),
      fspfTag: p.fspfTag.toLowerCase().replace(/^0x/, ''),
      fsKeys,
      decryptTo: encDir,
      workDir: p.workDir,
    });
    const id = img.identity;
    if (
      p.mrenclave !== undefined &&
      !safeEqualHex(p.mrenclave.toLowerCase().replace(/^0x/, ''), id.mrenclave)
    )
      throw new SealworkError(
        'MRENCLAVE_MISMATCH',
        `Refusing to start: the image measures ${id.mrenclave}, not the expected MrEnclave.`,
        {
          hint: 'The executable or the enclave configuration changed; use the image the fingerprint belongs to.',
          details: { expected: p.mrenclave, measured: id.mrenclave, file: id.measured },
        },
      );
    const { root, fspf, meta } = img;
    const regions = fspf.regions;
    const encryptedRegions = regions.filter((r) => r.protection === 'encrypted');
    const mounts = ['/proc', '/dev', '/tmp', '/iexec_in', '/iexec_out'];
    for (const m of mounts) await ensureMountPoint(root, m);
    if (encryptedRegions.length > 0) {
      // Mirror folders and links of encrypted regions (and mount points) into the tmpfs tree.
      for (const e of await walkRoot(root)) {
        if (regionOf(e.path, regions).protection !== 'encrypted' && !mounts.includes(e.path)) continue;
        const dest = join(encDir, ...components(e.path));
        if (e.type === 'dir') await fs.mkdir(dest, { recursive: true, mode: 0o755 });
        else if (e.type === 'symlink') {
          await fs.mkdir(join(dest, '..'), { recursive: true });
          await fs.symlink(await fs.readlink(e.host), dest).catch(() => {});
        }
      }
      for (const m of mounts) await fs.mkdir(join(encDir, ...components(m)), { recursive: true });
    }

    const args: string[] = [
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      '--hostname',
      'sealwork-enclave',
    ];
    // Root and region binds, shortest prefix first; a region is bound where its source differs from its parent's.
    const sourceOf = (enc: boolean) => (enc ? encDir : root);
    const rootEnc = regionOf('/', regions).protection === 'encrypted';
    args.push('--ro-bind', sourceOf(rootEnc), '/');
    for (const r of regions) {
      if (r.path === '/') continue;
      const enc = r.protection === 'encrypted';
      const parent = regionOf(
        components(r.path).length > 1 ? `/${components(r.path).slice(0, -1).join('/')}` : '/',
        regions,
      );
      if ((parent.protection === 'encrypted') === enc) continue;
      const src = join(sourceOf(enc), ...components(r.path));
      const st = await fs.lstat(src).catch(() => null);
      if (st && (st.isDirectory() || st.isFile())) args.push('--ro-bind', src, r.path);
    }
    args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
    if (memFiles.length === 0) {
      if (inDir) args.push('--ro-bind', inDir, '/iexec_in');
    } else {
      args.push('--tmpfs', '/iexec_in');
      if (inDir)
        for (const d of await fs.readdir(inDir, { withFileTypes: true })) {
          const src = join(inDir, d.name);
          if (d.isSymbolicLink()) args.push('--symlink', await fs.readlink(src), `/iexec_in/${d.name}`);
          else if (d.isFile() || d.isDirectory()) args.push('--ro-bind', src, `/iexec_in/${d.name}`);
        }
      await fs.mkdir(inMem, { mode: 0o700 });
      for (const f of memFiles) {
        const host = join(inMem, ...components(f.path));
        await fs.mkdir(join(host, '..'), { recursive: true, mode: 0o700 });
        await fs.writeFile(host, f.data, { mode: 0o444 });
        args.push('--ro-bind', host, `/iexec_in${f.path}`);
      }
      args.push('--remount-ro', '/iexec_in');
    }
    args.push('--bind', outDir, '/iexec_out', '--chdir', fspf.workingDir || '/');

    const env: Record<string, string> = {};
    for (const kv of fspf.env) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    Object.assign(env, { IEXEC_INPUT_FILES_NUMBER: '0' }, p.env ?? {}, {
      IEXEC_IN: '/iexec_in',
      IEXEC_OUT: '/iexec_out',
      SCONE_MODE: 'SIM',
      SEALWORK_SIMULATED: '1',
    });
    const memory = p.memoryBytes ?? meta.heapSize + meta.threads * meta.stackSize;
    const timeoutMs = p.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const argv = [...meta.entrypoint, ...extraArgs];
    const max = p.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const out = capture(max);
    const err = capture(max);

    const result = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      timedOut: boolean;
    }>((res, rej) => {
      const child = spawn(prlimit, [`--as=${memory}`, '--core=0', bwrap, ...args, '--', ...argv], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let timedOut = false;
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
      }, timeoutMs);
      const onAbort = () => killAll();
      p.signal?.addEventListener('abort', onAbort, { once: true });
      if (p.signal?.aborted) killAll(); // aborted before the listener existed
      const onExit = () => killAll();
      process.once('exit', onExit);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', (e) => {
        clearTimeout(timer);
        rej(new SealworkError('SANDBOX_FAILED', `Cannot start the sandbox: ${e.message}`, { cause: e }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        p.signal?.removeEventListener('abort', onAbort);
        process.removeListener('exit', onExit);
        killAll();
        res({ code, signal, timedOut });
      });
    });
    return {
      exitCode: result.code,
      signal: result.signal,
      timedOut: result.timedOut,
      stdout: out.text(),
      stderr: err.text(),
      stdoutTruncated: out.truncated(),
      stderrTruncated: err.truncated(),
      durationMs: Date.now() - started,
      mrenclave: id.mrenclave,
      fingerprint: id.fingerprint,
      simulated: true,
      memoryLimit: { bytes: memory, mechanism: MEMORY_LIMIT_MECHANISM },
    };
  } finally {
    await fs.rm(shm, { recursive: true, force: true });
    await img?.cleanup();
  }
}
