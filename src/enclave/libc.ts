/**
 * The two libc calls the runtime makes itself, through koffi (no helper process, ~µs instead of
 * the ~5 ms of spawning mount(8) / umount(8)): mounting the run's sized /iexec_out tmpfs and
 * detaching it afterwards. Only used when sealwork runs as root.
 */
import { SealworkError } from '../errors.js';

const MNT_DETACH = 2;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;

interface Libc {
  mount(source: string, target: string, type: string, flags: number, data: string): number;
  umount2(target: string, flags: number): number;
  errno(): number;
}

let libc: Libc | undefined;
async function load(): Promise<Libc> {
  if (libc) return libc;
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libc.so.6');
  const mount = lib.func(
    'int mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data)',
  );
  const umount2 = lib.func('int umount2(const char *target, int flags)');
  libc = {
    mount: (s, t, ty, f, d) => mount(s, t, ty, f, d) as number,
    umount2: (t, f) => umount2(t, f) as number,
    errno: () => koffi.errno(),
  };
  return libc;
}

/** Mount a tmpfs at `target` (nosuid, nodev, noexec) with the given options (size=…, …). */
export async function mountTmpfs(target: string, options: string): Promise<void> {
  const c = await load();
  if (c.mount('sealwork-out', target, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, options) !== 0)
    throw new SealworkError('SANDBOX_FAILED', `Cannot mount the bounded /iexec_out (errno ${c.errno()}).`, {
      hint: 'Mounting a tmpfs needs root (CAP_SYS_ADMIN); run the worker as root, or as an ordinary user (then a watchdog bounds /iexec_out).',
      details: { errno: c.errno() },
    });
}

/** Detach the mount at `target` (lazy: it goes once nothing uses it). False when nothing was mounted there. */
export async function unmount(target: string): Promise<boolean> {
  const c = await load();
  return c.umount2(target, MNT_DETACH) === 0;
}
