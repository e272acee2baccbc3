/**
 * The sandbox's seccomp filter: default allow, with the usual container denylist (Docker's default
 * profile and more) answered by EPERM, `clone3` by ENOSYS (so libc falls back to `clone`, whose
 * namespace flags can be inspected), and foreign architectures other than the native one and its
 * 32-bit companion killed.
 *
 * The BPF program is built by libseccomp (Debian's `libseccomp2`, the library Docker, podman and
 * systemd use), called through koffi; nothing here assembles BPF by hand. bwrap loads the program
 * (`--seccomp FD`) just before it executes the app, after its own mounts.
 */
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';

/** Syscalls an app never needs; each answered by EPERM. Documented in docs/enclave.md. */
export const SECCOMP_DENIED: readonly string[] = [
  // mounting and the mount API
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'move_mount',
  'open_tree',
  'mount_setattr',
  // namespaces (new ones go through clone, filtered below)
  'unshare',
  'setns',
  // kernel keyrings
  'keyctl',
  'add_key',
  'request_key',
  // BPF, perf, tracing and other processes' memory
  'bpf',
  'perf_event_open',
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kcmp',
  'pidfd_getfd',
  'lookup_dcookie',
  'userfaultfd',
  // kernel modules, kexec, reboot, swap
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'get_kernel_syms',
  'query_module',
  'kexec_load',
  'kexec_file_load',
  'reboot',
  'swapon',
  'swapoff',
  // clocks, accounting, quotas, logs, legacy interfaces
  'settimeofday',
  'stime',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'acct',
  'quotactl',
  'quotactl_fd',
  'syslog',
  '_sysctl',
  'sysfs',
  'ustat',
  'uselib',
  'nfsservctl',
  // file handles (escape from bind mounts), raw I/O ports, vm86
  'name_to_handle_at',
  'open_by_handle_at',
  'iopl',
  'ioperm',
  'vm86',
  'vm86old',
  // NUMA policy of other processes, io_uring (bypasses this filter)
  'mbind',
  'set_mempolicy',
  'migrate_pages',
  'move_pages',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
];

/** clone flags that create namespaces: a clone with any of them is refused (EPERM). */
export const CLONE_NAMESPACE_FLAGS: Record<string, number> = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
};

const ACT_ALLOW = 0x7fff0000;
const actErrno = (errno: number) => (0x00050000 | (errno & 0xffff)) >>> 0;
const EPERM = 1;
const ENOSYS = 38;
const SCMP_CMP_MASKED_EQ = 7;
/** AUDIT_ARCH values of the 32-bit companions libseccomp adds beside the native architecture. */
const COMPANION_ARCH: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 0x40000003, // SCMP_ARCH_X86
  arm64: 0x40000028, // SCMP_ARCH_ARM
};

let cached: Buffer | undefined;
let structRegistered = false;

/** The filter as a BPF program (built once per process). */
export async function seccompProgram(): Promise<Buffer> {
  if (cached) return cached;
  let koffi: typeof import('koffi').default;
  let lib: ReturnType<typeof koffi.load>;
  try {
    koffi = (await import('koffi')).default;
    lib = koffi.load('libseccomp.so.2');
  } catch (e) {
    throw new SealworkError(
      'SANDBOX_UNAVAILABLE',
      'libseccomp is not installed; the enclave sandbox needs it.',
      {
        hint: 'Install it: apt-get install -y libseccomp2.',
        cause: e,
      },
    );
  }
  // Registered once per process: koffi refuses a second type of the same name (a retry after a
  // failed build would otherwise fail here).
  if (!structRegistered) {
    koffi.struct('sealwork_scmp_arg_cmp', {
      arg: 'uint32_t',
      op: 'int',
      datum_a: 'uint64_t',
      datum_b: 'uint64_t',
    });
    structRegistered = true;
  }
  const init = lib.func('void *seccomp_init(uint32_t def_action)');
  const release = lib.func('void seccomp_release(void *ctx)');
  const archAdd = lib.func('int seccomp_arch_add(void *ctx, uint32_t arch)');
  const resolve = lib.func('int seccomp_syscall_resolve_name(const char *name)');
  const ruleAdd = lib.func(
    'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const sealwork_scmp_arg_cmp *arg_array)',
  );
  const exportBpf = lib.func('int seccomp_export_bpf(void *ctx, int fd)');
  const ctx = init(ACT_ALLOW);
  if (!ctx) throw new SealworkError('SANDBOX_FAILED', 'libseccomp could not create a filter.');
  const fail = (what: string, rc: number) =>
    new SealworkError('SANDBOX_FAILED', `libseccomp refused ${what} (error ${rc}).`, {
      details: { what, rc },
    });
  const file = join(tmpdir(), `sealwork-seccomp-${process.pid}-${Date.now()}.bpf`);
  try {
    const companion = COMPANION_ARCH[process.arch];
    if (companion !== undefined) {
      const rc = archAdd(ctx, companion) as number;
      if (rc !== 0 && rc !== -17 /* EEXIST */) throw fail('the 32-bit architecture', rc);
    }
    for (const name of SECCOMP_DENIED) {
      const nr = resolve(name) as number;
      if (nr === -1) continue; // __NR_SCMP_ERROR: unknown to this libseccomp
      const rc = ruleAdd(ctx, actErrno(EPERM), nr, 0, null) as number;
      // -EDOM / -EFAULT / -EOPNOTSUPP: the syscall does not exist on any architecture of the filter
      if (rc !== 0 && rc !== -33 && rc !== -14 && rc !== -95) throw fail(`a rule for ${name}`, rc);
    }
    const clone = resolve('clone') as number;
    for (const [flag, bit] of Object.entries(CLONE_NAMESPACE_FLAGS)) {
      const rc = ruleAdd(ctx, actErrno(EPERM), clone, 1, [
        { arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: bit, datum_b: bit },
      ]) as number;
      if (rc !== 0) throw fail(`the clone rule for ${flag}`, rc);
    }
    const clone3 = resolve('clone3') as number;
    if (clone3 !== -1) {
      const rc = ruleAdd(ctx, actErrno(ENOSYS), clone3, 0, null) as number;
      if (rc !== 0 && rc !== -33 && rc !== -14 && rc !== -95) throw fail('the clone3 rule', rc);
    }
    const fd = openSync(file, 'wx', 0o600);
    try {
      const rc = exportBpf(ctx, fd) as number;
      if (rc !== 0) throw fail('exporting the filter', rc);
    } finally {
      closeSync(fd);
    }
    cached = readFileSync(file);
    return cached;
  } finally {
    release(ctx);
    rmSync(file, { force: true });
  }
}
