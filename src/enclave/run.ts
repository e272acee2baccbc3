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
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SealworkError, fsError } from '../errors.js';
import { shmBase, type LoadedImage } from './build.js';
import {
  loadImageCached,
  resolveImageCache,
  type ImageCacheOptions,
  type ImageCacheResult,
} from './image-cache.js';
import { mountTmpfs } from './libc.js';
import { parseFsKeys, readFsKeyFile, regionOf, walkRoot, type FsKeys } from './fspf.js';
import { copyOutput, outputFull, treeUsage } from './output.js';
import { createRunDirs, leaseSandboxUid, type RunDirs, type SandboxIdentity } from './rundir.js';
import { startShieldNamespace, PROXY_URL } from './network/netns.js';
import {
  startEgressProxy,
  type EgressLimits,
  type EgressPolicy,
  type EgressRecord,
} from './network/proxy.js';
import {
  reachableByOthers,
  runSandbox,
  sandboxTools,
  type SandboxMounts,
  type SandboxRun,
} from './sandbox.js';
import { resolveLimits, type SandboxLimitOverrides, type SandboxLimits } from './sandbox-limits.js';
import { components, imagePath, safeEqualHex, splitCommand } from './util.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;
/** How the memory limit is enforced (reported in results and docs). */
export const MEMORY_LIMIT_MECHANISM =
  'RLIMIT_AS via prlimit --as (address space of every process in the sandbox); /tmp and /dev/shm are sized tmpfs carved out of the same budget';
const TMPFS_MAGIC = 0x01021994;

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
  /** Host folder that receives what the app leaves in /iexec_out (created if missing). */
  outDir: string;
  /** Arguments appended to the entrypoint (argv, or a command-line string). */
  args?: string[] | string;
  /** Extra environment (iExec variables etc.); IEXEC_IN / IEXEC_OUT are fixed. */
  env?: Record<string, string>;
  /** Wall-clock limit (default 60 s). */
  timeoutMs?: number;
  /** The enclave's memory budget in bytes (default heap + threads × stack of the enclave). */
  memoryBytes?: number;
  /** Resource bounds (processes, files, CPU, /tmp, /dev/shm, result size); see sandbox-limits.ts. */
  limits?: SandboxLimitOverrides;
  /**
   * Extra read-only files placed in /iexec_in from memory (e.g. a decrypted dataset): written only
   * to a private tmpfs folder under /dev/shm, bound into the sandbox, and removed afterwards.
   */
  files?: { path: string; data: Buffer }[];
  /** Bound of the captured stdout and stderr, each (default 1 MiB). */
  maxOutputBytes?: number;
  /** Scratch folder for the unpacked image (default the OS temp folder). */
  workDir?: string;
  /**
   * The operator's side of the network shield, for apps built with egress destinations: which
   * addresses may be reached (e.g. the worker's download rules), the resolver, the bounds.
   * Required for such apps; ignored for apps without egress (they have no network).
   */
  network?: Omit<EgressPolicy, 'destinations'> & { limits?: Partial<EgressLimits> };
  /** The verified image cache (default from SEALWORK_IMAGE_CACHE_BYTES / _DIR; false or 0 bytes disables it). */
  imageCache?: ImageCacheOptions | false;
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
  /** Every bound the run had. */
  limits: SandboxLimits;
  /** The host uid the app ran as (a dedicated one when sealwork runs as root). */
  sandboxUid: number;
  /** Network-shielded runs: the measured destinations and what each tunnel did (no payload). */
  network?: { destinations: string[]; tunnels: EgressRecord[] };
  /** Whether the image came from the verified image cache (see docs/enclave.md). */
  imageCache: ImageCacheResult;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Names the caller may not set: they would change which program runs or what it loads (PATH,
 * LD_*) — so the program measured into MrEnclave would not be the one executed — or they are
 * fixed by the runtime.
 */
const RESERVED_ENV =
  /^(PATH|LD_[A-Z0-9_]*|IEXEC_IN|IEXEC_OUT|SCONE_MODE|SEALWORK_SIMULATED|(HTTPS?|ALL|NO)_PROXY|(https?|all|no)_proxy)$/;

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

/** Refuse caller environment that would change the program run or the runtime's fixed variables. */
function checkEnv(env: Record<string, string> | undefined): void {
  for (const k of Object.keys(env ?? {}))
    if (!ENV_NAME.test(k))
      throw new SealworkError('ENV_INVALID', `Invalid environment variable name "${k}".`, {
        hint: 'Use letters, digits and _.',
      });
    else if (RESERVED_ENV.test(k))
      throw new SealworkError('ENV_RESERVED', `The environment variable ${k} cannot be set by the caller.`, {
        hint: 'PATH and LD_* come from the image (authenticated by the FSPF); IEXEC_IN, IEXEC_OUT, SCONE_MODE and the proxy variables are fixed by the runtime.',
        details: { name: k },
      });
}

function memoryFiles(files: RunEnclaveParameters['files']): { path: string; data: Buffer }[] {
  const out = (files ?? []).map((f) => ({ path: imagePath(f.path, 'INPUT_PATH_INVALID'), data: f.data }));
  for (const f of out)
    if (f.path === '/')
      throw new SealworkError('INPUT_PATH_INVALID', 'An in-memory input file has an empty path.', {
        hint: 'Give a file name.',
      });
  return out;
}

/**
 * The host path of `path` under `base`, refusing any link among its components: a region bind
 * is resolved inside the image root at run time, whatever the builder recorded. Null when absent.
 */
export async function regionSource(base: string, path: string): Promise<string | null> {
  let host = base;
  for (const part of components(path)) {
    host = join(host, part);
    const st = await fs.lstat(host).catch(() => null);
    if (!st) return null;
    if (st.isSymbolicLink())
      throw new SealworkError(
        'REGION_PATH_INVALID',
        `The region ${path} passes through the link ${host.slice(base.length)}.`,
        {
          hint: 'Region paths must be real folders or files of the image; rebuild the image with `sealwork app build`.',
          details: { region: path, link: host.slice(base.length) },
        },
      );
  }
  return host;
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

const MOUNT_POINTS = ['/proc', '/dev', '/tmp', '/iexec_in', '/iexec_out'];

/** Root and region binds, shortest prefix first; a region is bound where its source differs from its parent's. */
async function imageMounts(img: LoadedImage, encDir: string): Promise<Pick<SandboxMounts, 'root' | 'binds'>> {
  const { root, fspf } = img;
  const regions = fspf.regions;
  for (const m of MOUNT_POINTS) await ensureMountPoint(root, m);
  if (regions.some((r) => r.protection === 'encrypted')) {
    // Mirror folders and links of encrypted regions (and mount points) into the memory tree.
    for (const e of await walkRoot(root)) {
      if (regionOf(e.path, regions).protection !== 'encrypted' && !MOUNT_POINTS.includes(e.path)) continue;
      const dest = join(encDir, ...components(e.path));
      if (e.type === 'dir') await fs.mkdir(dest, { recursive: true, mode: 0o755 });
      else if (e.type === 'symlink') {
        await fs.mkdir(join(dest, '..'), { recursive: true });
        await fs.symlink(await fs.readlink(e.host), dest).catch(() => {});
      }
    }
    for (const m of MOUNT_POINTS) await fs.mkdir(join(encDir, ...components(m)), { recursive: true });
  }
  const sourceOf = (enc: boolean) => (enc ? encDir : root);
  const binds: SandboxMounts['binds'] = [];
  for (const r of regions) {
    if (r.path === '/') continue;
    const enc = r.protection === 'encrypted';
    const parts = components(r.path);
    const parent = regionOf(parts.length > 1 ? `/${parts.slice(0, -1).join('/')}` : '/', regions);
    if ((parent.protection === 'encrypted') === enc) continue;
    const src = await regionSource(sourceOf(enc), r.path);
    const st = src ? await fs.lstat(src) : null;
    if (src && st && (st.isDirectory() || st.isFile())) binds.push({ src, dest: r.path });
  }
  return { root: sourceOf(regionOf('/', regions).protection === 'encrypted'), binds };
}

/** /iexec_in's content, staged into the run's memory folder: a copy of `inDir` and the in-memory files. */
async function stageInputs(
  dir: string,
  inDir: string | undefined,
  files: { path: string; data: Buffer }[],
): Promise<void> {
  await fs.mkdir(dir, { mode: 0o700 });
  if (inDir) await fs.cp(inDir, dir, { recursive: true, verbatimSymlinks: true, force: true });
  for (const f of files) {
    const host = join(dir, ...components(f.path));
    await fs.mkdir(join(host, '..'), { recursive: true, mode: 0o700 });
    await fs.rm(host, { recursive: true, force: true });
    await fs.writeFile(host, f.data, { mode: 0o444 });
  }
}

/**
 * The folder the app sees as /iexec_out: a sized tmpfs (size = result bound, inodes = entry bound)
 * when sealwork runs as root; otherwise a memory folder watched by the supervisor.
 */
async function prepareOutput(dir: string, who: SandboxIdentity, limits: SandboxLimits): Promise<void> {
  await fs.mkdir(dir, { mode: 0o700 });
  if (!who.dedicated) return;
  await mountTmpfs(
    dir,
    `size=${limits.resultBytes},nr_inodes=${limits.resultEntries + 2},mode=0700,uid=${who.uid},gid=${who.gid}`,
  );
}

/** Give the dedicated uid what it must read or write (the run's own copies only). */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  const entries = await fs.readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? chownTree(join(dir, e.name), uid, gid) : fs.lchown(join(dir, e.name), uid, gid),
    ),
  );
}

/** The image's environment, the caller's, then the runtime's fixed variables. */
function sandboxEnv(image: string[], caller: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of image) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return Object.assign(env, { IEXEC_INPUT_FILES_NUMBER: '0' }, caller ?? {}, {
    IEXEC_IN: '/iexec_in',
    IEXEC_OUT: '/iexec_out',
    SCONE_MODE: 'SIM',
    SEALWORK_SIMULATED: '1',
  });
}

/** Where the unpacked image goes: `workDir` when the run's uid can reach it, else the system staging folder. */
async function stagingBase(workDir: string | undefined, who: SandboxIdentity): Promise<string> {
  const base = resolve(workDir ?? tmpdir());
  if (!who.dedicated || (await reachableByOthers(base))) return base;
  const sys = resolve(process.env.SEALWORK_SANDBOX_STAGE ?? '/var/tmp/sealwork-stage');
  await fs.mkdir(sys, { recursive: true, mode: 0o711 });
  const st = await fs.lstat(sys);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0)
    throw new SealworkError(
      'SANDBOX_FAILED',
      `The staging folder ${sys} must be a root-owned folder no one else can write.`,
      {
        hint: 'Fix its owner and mode (chown root: ; chmod 711), or set SEALWORK_SANDBOX_STAGE.',
        details: { path: sys },
      },
    );
  return sys;
}

/** Check the memory folder is one the dedicated uid can reach. */
async function checkShm(shm: string, who: SandboxIdentity): Promise<void> {
  if (who.dedicated && !(await reachableByOthers(shm)))
    throw new SealworkError(
      'SANDBOX_FAILED',
      `The sandbox's uid cannot reach ${shm}: a folder above it is closed to others.`,
      {
        hint: 'Use a memory folder every folder above which is searchable (chmod o+x), e.g. /dev/shm, or unset SEALWORK_SHM_DIR.',
        details: { path: shm },
      },
    );
}

/** Run the entrypoint of a protected image in the sandbox. Refuses to start on any FSPF mismatch. */
export async function runEnclave(p: RunEnclaveParameters): Promise<RunEnclaveReturnType> {
  const started = Date.now();
  sandboxTools();
  const fsKeys: FsKeys | undefined =
    p.fsKey !== undefined ? parseFsKeys(p.fsKey) : p.fsKeyFile ? await readFsKeyFile(p.fsKeyFile) : undefined;
  const outDir = resolve(p.outDir);
  await fs.mkdir(outDir, { recursive: true, mode: 0o700 }).catch((e) => {
    throw fsError(e, outDir, 'create output folder');
  });
  await realDir(outDir, 'output folder');
  const inDir = p.inDir ? await realDir(p.inDir, 'input folder') : undefined;
  const extraArgs = p.args === undefined ? [] : Array.isArray(p.args) ? p.args : splitCommand(p.args);
  checkEnv(p.env);
  const memFiles = memoryFiles(p.files);
  const timeoutMs = p.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const who = await leaseSandboxUid();
  let run: RunDirs | undefined;
  let img: LoadedImage | undefined;
  let cache: ImageCacheResult | undefined;
  try {
    const shm = await shmBase();
    await checkShm(shm, who);
    run = await createRunDirs({ shm, workDir: await stagingBase(p.workDir, who) });
    const encDir = join(run.mem, 'enc');
    await fs.mkdir(encDir, { mode: 0o700 });
    ({ img, cache } = await loadImageCached(
      {
        image: p.image,
        fspfKey: p.fspfKey.toLowerCase().replace(/^0x/, ''),
        fspfTag: p.fspfTag.toLowerCase().replace(/^0x/, ''),
        fsKeys,
        decryptTo: encDir,
        workDir: run.stage,
      },
      { cache: resolveImageCache(p.imageCache), dedicated: who.dedicated },
    ));
    checkMrEnclave(p.mrenclave, img);
    const { meta, fspf } = img;
    const limits = resolveLimits({
      imageMemoryBytes: meta.heapSize + meta.threads * meta.stackSize,
      timeoutMs,
      overrides: { ...p.limits, ...(p.memoryBytes !== undefined ? { memoryBytes: p.memoryBytes } : {}) },
    });
    const mounts: SandboxMounts = {
      ...(await imageMounts(img, encDir)),
      input: join(run.mem, 'in'),
      output: join(run.mem, 'out'),
      workingDir: fspf.workingDir || '/',
    };
    await stageInputs(mounts.input, inDir, memFiles);
    await prepareOutput(mounts.output, who, limits);
    if (who.dedicated) {
      // A cached tree stays ours (read-only to the run's uid); only a run's own copy is handed over.
      const own = !cache.stored;
      for (const d of [run.mem, run.stage, ...(own ? [img.stage] : [])]) await fs.chmod(d, 0o711);
      for (const d of [...(own ? [img.root] : []), encDir, mounts.input])
        await chownTree(d, who.uid, who.gid);
    }
    const destinations = img.identity.config.egress ?? [];
    const shield = destinations.length
      ? await startShield(join(run.mem, 'egress.sock'), destinations, p.network)
      : undefined;
    let r: SandboxRun;
    try {
      r = await runSandbox({
        mounts,
        limits,
        who,
        argv: [...meta.entrypoint, ...extraArgs],
        env: { ...sandboxEnv(fspf.env, p.env), ...(shield ? PROXY_ENV : {}) },
        timeoutMs,
        maxOutputBytes: p.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
        seccompFile: join(run.mem, 'seccomp.bpf'),
        watchOutput: !who.dedicated,
        ...(shield ? { netns: shield.netns } : {}),
        signal: p.signal,
      });
    } finally {
      await shield?.close();
    }
    await bringOutputOut(mounts.output, outDir, limits, r.outputOverflow, who.dedicated);
    const { outputOverflow: _overflow, code, ...rest } = r;
    return {
      ...rest,
      exitCode: code,
      durationMs: Date.now() - started,
      mrenclave: img.identity.mrenclave,
      fingerprint: img.identity.fingerprint,
      simulated: true,
      memoryLimit: { bytes: limits.memoryBytes, mechanism: MEMORY_LIMIT_MECHANISM },
      limits,
      sandboxUid: who.uid,
      ...(shield ? { network: { destinations, tunnels: shield.records } } : {}),
      imageCache: cache,
    };
  } finally {
    await img?.cleanup();
    await run?.cleanup();
    await who.release();
  }
}

const PROXY_ENV = { HTTPS_PROXY: PROXY_URL, https_proxy: PROXY_URL };

/** The run's network shield: its egress proxy, and the namespace whose only way out it is. */
async function startShield(
  socketPath: string,
  destinations: string[],
  network: RunEnclaveParameters['network'],
): Promise<{ netns: string; records: EgressRecord[]; close(): Promise<void> }> {
  if (!network)
    throw new SealworkError(
      'NETWORK_SHIELD_POLICY_REQUIRED',
      `The app reaches the network (${destinations.join(', ')}) and no address rules were given for its shield.`,
      {
        hint: 'Pass `network` (the worker passes its download rules; `app exec` its --allow-fetch-host entries).',
      },
    );
  const { limits, ...rules } = network;
  const proxy = await startEgressProxy({ socketPath, policy: { ...rules, destinations }, limits });
  let ns;
  try {
    ns = await startShieldNamespace(socketPath);
  } catch (e) {
    await proxy.close();
    throw e;
  }
  return {
    netns: ns.netns,
    records: proxy.records,
    async close() {
      await ns.close();
      await proxy.close();
    },
  };
}

function checkMrEnclave(expected: string | undefined, img: LoadedImage): void {
  const id = img.identity;
  if (expected !== undefined && !safeEqualHex(expected.toLowerCase().replace(/^0x/, ''), id.mrenclave))
    throw new SealworkError(
      'MRENCLAVE_MISMATCH',
      `Refusing to start: the image measures ${id.mrenclave}, not the expected MrEnclave.`,
      {
        hint: 'The executable or the enclave configuration changed; use the image the fingerprint belongs to.',
        details: { expected, measured: id.mrenclave, file: id.measured },
      },
    );
}

/** Refuse a full or oversized /iexec_out, then copy it to the caller's folder (regular files only). */
async function bringOutputOut(
  from: string,
  to: string,
  limits: SandboxLimits,
  overflow: boolean,
  sizedTmpfs: boolean,
): Promise<void> {
  const full = await fs.statfs(from).then(
    (s) => s.type === TMPFS_MAGIC && (s.bfree === 0 || s.ffree === 0),
    () => false,
  );
  if (overflow || full) throw outputFull(limits, await treeUsage(from));
  // A sized tmpfs cannot hold more than the bounds, so the copy is the one walk; a watched folder
  // may have outgrown them after the watchdog's last look: measure it first, so nothing is copied.
  if (!sizedTmpfs) {
    const usage = await treeUsage(from);
    if (usage.bytes > limits.resultBytes || usage.entries > limits.resultEntries)
      throw outputFull(limits, usage);
  }
  await copyOutput(from, to, limits);
}
