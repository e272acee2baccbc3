/**
 * The folders of one sandboxed run, the host uid it runs as, and the sweep of what a killed run
 * left behind: one mechanism for `app exec` and the worker.
 *
 * A run owns:
 *   - a memory-backed folder `<shm>/sealwork-run-<id>` (decrypted regions, in-memory inputs and,
 *     when sealwork runs as root, the mount point of the sized tmpfs the app sees as /iexec_out);
 *   - a disk staging folder `<workDir>/sealwork-stage-<id>` (the unpacked image, staged inputs).
 * Both names are neutral (no user paths), so the app's /proc/self/mountinfo shows nothing of the
 * host's layout but these. The memory folder holds `owner.json` (pid and start time of the process
 * that made the run, and the staging path). At every start the sweep removes the run folders whose
 * owner is gone: it only touches real folders (no links) owned by the current uid, named
 * `sealwork-run-*`, with an owner file it can read; it unmounts what is mounted inside first.
 *
 * Host uid: when sealwork runs as root, each run gets a dedicated unprivileged uid/gid from a range
 * (SEALWORK_SANDBOX_UID_BASE, default 1,800,000,000; 65,536 of them), leased by an exclusive file
 * in SEALWORK_SANDBOX_UID_LEASES (default /run/sealwork/uids). A lease whose owner is gone is
 * taken over. Otherwise the run uses the caller's own (unprivileged) uid.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SealworkError } from '../errors.js';
import { unmount } from './libc.js';

const UID_COUNT = 65_536;
const RUN_PREFIX = 'sealwork-run-';
const STAGE_PREFIX = 'sealwork-stage-';
const OWNER_FILE = 'owner.json';

interface Owner {
  pid: number;
  start: string;
  stage: string;
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const self = (): { pid: number; start: string } => ({
  pid: process.pid,
  start: processStart(process.pid) ?? '?',
});

function alive(o: { pid: number; start: string }): boolean {
  return Number.isSafeInteger(o.pid) && processStart(o.pid) === o.start;
}

export interface SandboxIdentity {
  uid: number;
  gid: number;
  /** True when the run drops from root to a dedicated uid. */
  dedicated: boolean;
  release(): Promise<void>;
}

function uidBase(): number {
  const raw = process.env.SEALWORK_SANDBOX_UID_BASE;
  const base = raw === undefined ? 1_800_000_000 : Number(raw);
  if (!Number.isSafeInteger(base) || base < 1000 || base + UID_COUNT > 0xfffffffe)
    throw new SealworkError(
      'SANDBOX_LIMIT_INVALID',
      `SEALWORK_SANDBOX_UID_BASE=${raw} is not a usable uid range start.`,
      {
        hint: `Give an integer ≥ 1000 and ≤ ${0xfffffffe - UID_COUNT}, a range no host account uses.`,
      },
    );
  return base;
}

/** Lease a dedicated host uid (root), or use the caller's own. */
export async function leaseSandboxUid(): Promise<SandboxIdentity> {
  const euid = process.geteuid?.() ?? 0;
  if (euid !== 0)
    return { uid: euid, gid: process.getegid?.() ?? euid, dedicated: false, release: async () => {} };
  const base = uidBase();
  const dir = resolve(process.env.SEALWORK_SANDBOX_UID_LEASES ?? '/run/sealwork/uids');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 64; attempt++) {
    const uid = base + randomInt(UID_COUNT);
    const file = join(dir, String(uid));
    const mine = JSON.stringify(self());
    try {
      await fs.writeFile(file, mine, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = await fs.readFile(file, 'utf8').then(JSON.parse, () => undefined);
      if (held && alive(held)) continue;
      // The holder is gone: take the lease over (rename is atomic; the last writer wins the race,
      // so re-read to see who holds it).
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      await fs.writeFile(tmp, mine, { mode: 0o600 });
      await fs.rename(tmp, file);
      if ((await fs.readFile(file, 'utf8').catch(() => '')) !== mine) continue;
    }
    return {
      uid,
      gid: uid,
      dedicated: true,
      release: async () => {
        if ((await fs.readFile(file, 'utf8').catch(() => '')) === mine) await fs.rm(file, { force: true });
      },
    };
  }
  throw new SealworkError('SANDBOX_FAILED', 'No free sandbox uid after 64 attempts.', {
    hint: `Too many runs at once, or stale leases in ${dir}; remove the files of finished runs.`,
  });
}

export interface RunDirs {
  /** Memory-backed folder of the run (0700, owned by the run's uid when dedicated). */
  mem: string;
  /** Disk staging folder of the run. */
  stage: string;
  cleanup(): Promise<void>;
}

/** Create the run's folders, after sweeping what dead runs left. */
export async function createRunDirs(p: { shm: string; workDir?: string }): Promise<RunDirs> {
  await sweepStaleRuns(p);
  const id = randomBytes(8).toString('hex');
  const mem = join(p.shm, `${RUN_PREFIX}${id}`);
  const stage = join(resolve(p.workDir ?? tmpdir()), `${STAGE_PREFIX}${id}`);
  await fs.mkdir(mem, { mode: 0o700 });
  const owner: Owner = { ...self(), stage };
  await fs.writeFile(join(mem, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
  await fs.mkdir(stage, { mode: 0o700 });
  return { mem, stage, cleanup: () => removeRun(mem, stage, [join(mem, 'out')]) };
}

/** Unmount (lazily) every mount at or below `dir`, deepest first. */
async function unmountBelow(dir: string): Promise<void> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of points) await unmount(m);
}

/** Remove a run's folders; `mounts` are the run's own mount points (none parsed from mountinfo). */
async function removeRun(mem: string, stage: string, mounts?: string[]): Promise<void> {
  if (mounts) {
    if (process.geteuid?.() === 0) for (const m of mounts) await unmount(m);
  } else await unmountBelow(mem);
  await fs.rm(mem, { recursive: true, force: true });
  await fs.rm(stage, { recursive: true, force: true });
}

/**
 * Remove the run folders of dead runs under `shm` (and their staging folders). Returns how many.
 * Safe against a malicious tree: entries must be real folders owned by us, the owner file a real
 * file, and the staging path one of ours by name.
 */
export async function sweepStaleRuns(p: { shm: string }): Promise<number> {
  const euid = process.geteuid?.() ?? 0;
  let swept = 0;
  for (const name of await fs.readdir(p.shm).catch(() => [] as string[])) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = join(p.shm, name);
    const st = await fs.lstat(dir).catch(() => null);
    if (!st?.isDirectory() || st.uid !== euid) continue;
    const ownerPath = join(dir, OWNER_FILE);
    const ost = await fs.lstat(ownerPath).catch(() => null);
    if (!ost?.isFile() || ost.uid !== euid || ost.size > 4096) continue;
    const owner = await fs.readFile(ownerPath, 'utf8').then(
      (t) => JSON.parse(t) as Owner,
      () => undefined,
    );
    if (!owner || alive(owner)) continue;
    const stage =
      typeof owner.stage === 'string' && owner.stage.split('/').pop()?.startsWith(STAGE_PREFIX)
        ? owner.stage
        : undefined;
    if (stage) {
      const sst = await fs.lstat(stage).catch(() => null);
      if (sst && (!sst.isDirectory() || sst.uid !== euid)) continue;
    }
    await unmountBelow(dir);
    await fs.rm(dir, { recursive: true, force: true });
    if (stage) await fs.rm(stage, { recursive: true, force: true });
    swept++;
  }
  return swept;
}
