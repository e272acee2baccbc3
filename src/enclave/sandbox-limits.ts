/**
 * Resource bounds of one sandboxed run: every value has a documented default (docs/enclave.md),
 * can be set per run (`RunEnclaveParameters.limits`) and, for operators, through environment
 * variables read here and nowhere else.
 *
 * Memory: SGX memory is enclave memory, so the in-memory file systems (/tmp, /dev/shm) are carved
 * out of the enclave's memory budget (heap + threads × stack unless given): the address-space limit
 * of each process is what remains.
 */
import { SealworkError } from '../errors.js';

export interface SandboxLimits {
  /** The enclave's memory budget in bytes (default heap + threads × stack of the image). */
  memoryBytes: number;
  /** Size of the /tmp tmpfs (default memory / 8). */
  tmpBytes: number;
  /** Size of the /dev/shm tmpfs (default memory / 8). */
  shmBytes: number;
  /** RLIMIT_AS of every process: memory − tmp − shm. */
  addressSpaceBytes: number;
  /** Processes (RLIMIT_NPROC) the app may have at once (default 256). */
  processes: number;
  /** Open files per process (RLIMIT_NOFILE, default 1024). */
  openFiles: number;
  /** Largest file any process may write (RLIMIT_FSIZE, default the largest writable area). */
  fileBytes: number;
  /** CPU seconds per process (RLIMIT_CPU, default 2 × the timeout). */
  cpuSeconds: number;
  /** Total size of what the app leaves in /iexec_out (default 128 MiB). */
  resultBytes: number;
  /** Files and folders in /iexec_out (default 10,000). */
  resultEntries: number;
}

export type SandboxLimitOverrides = Partial<Omit<SandboxLimits, 'addressSpaceBytes'>>;

const MIB = 1024 * 1024;
/** The smallest address space a process can start in. */
const MIN_ADDRESS_SPACE = 4 * MIB;

/** Environment variables an operator may set; each maps to one field. */
export const LIMIT_ENV: Record<keyof SandboxLimitOverrides, string> = {
  memoryBytes: 'SEALWORK_SANDBOX_MEMORY',
  tmpBytes: 'SEALWORK_SANDBOX_TMP_BYTES',
  shmBytes: 'SEALWORK_SANDBOX_SHM_BYTES',
  processes: 'SEALWORK_SANDBOX_PROCESSES',
  openFiles: 'SEALWORK_SANDBOX_OPEN_FILES',
  fileBytes: 'SEALWORK_SANDBOX_FILE_BYTES',
  cpuSeconds: 'SEALWORK_SANDBOX_CPU_SECONDS',
  resultBytes: 'SEALWORK_SANDBOX_RESULT_BYTES',
  resultEntries: 'SEALWORK_SANDBOX_RESULT_ENTRIES',
};

function invalid(name: string, value: unknown): SealworkError {
  return new SealworkError(
    'SANDBOX_LIMIT_INVALID',
    `The sandbox limit ${name} must be a positive integer, not ${String(value)}.`,
    {
      hint: 'Give a whole number (bytes, count or seconds).',
      details: { limit: name, value: String(value) },
    },
  );
}

function fromEnv(env: NodeJS.ProcessEnv): SandboxLimitOverrides {
  const out: SandboxLimitOverrides = {};
  for (const [field, name] of Object.entries(LIMIT_ENV) as [keyof SandboxLimitOverrides, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (!/^\d+$/.test(raw)) throw invalid(name, raw);
    out[field] = Number(raw);
  }
  return out;
}

/** The bounds of one run: explicit values, then the environment, then the defaults. */
export function resolveLimits(p: {
  imageMemoryBytes: number;
  timeoutMs: number;
  overrides?: SandboxLimitOverrides;
  env?: NodeJS.ProcessEnv;
}): SandboxLimits {
  const o = { ...fromEnv(p.env ?? process.env), ...stripUndefined(p.overrides ?? {}) };
  for (const [k, v] of Object.entries(o))
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw invalid(k, v);
  const memoryBytes = o.memoryBytes ?? p.imageMemoryBytes;
  const tmpBytes = o.tmpBytes ?? Math.floor(memoryBytes / 8);
  const shmBytes = o.shmBytes ?? Math.floor(memoryBytes / 8);
  const addressSpaceBytes = memoryBytes - tmpBytes - shmBytes;
  if (addressSpaceBytes < MIN_ADDRESS_SPACE)
    throw new SealworkError(
      'SANDBOX_LIMIT_INVALID',
      `The enclave memory (${memoryBytes} bytes) leaves ${addressSpaceBytes} bytes of address space after /tmp (${tmpBytes}) and /dev/shm (${shmBytes}).`,
      {
        hint: `Give more memory or smaller /tmp and /dev/shm: at least ${MIN_ADDRESS_SPACE} bytes must remain.`,
        details: { memoryBytes, tmpBytes, shmBytes },
      },
    );
  const resultBytes = o.resultBytes ?? 128 * MIB;
  return {
    memoryBytes,
    tmpBytes,
    shmBytes,
    addressSpaceBytes,
    processes: o.processes ?? 256,
    openFiles: o.openFiles ?? 1024,
    fileBytes: o.fileBytes ?? Math.max(resultBytes, tmpBytes, shmBytes),
    cpuSeconds: o.cpuSeconds ?? Math.max(1, Math.ceil((2 * p.timeoutMs) / 1000)),
    resultBytes,
    resultEntries: o.resultEntries ?? 10_000,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
