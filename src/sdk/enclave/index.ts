/**
 * SDK of the enclave domain: build, measure and run protected app images (simulated SCONE).
 * Thin typed wrappers over src/enclave; the CLI calls only these.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { SealworkError } from '../../errors.js';
import { assertWritableTarget, writeFileAtomic } from '../../util/atomic.js';
import { allowFetchHostsFromEnv, fetchGuard, shieldAddressRule } from '../../worker/egress.js';
import {
  buildApp as buildAppImage,
  measureApp as measureAppImage,
  parseFingerprint,
  parseSize,
  runEnclave,
  LIMIT_ENV,
  type SandboxLimitOverrides,
  type BuildAppParameters,
  type BuildAppReturnType,
  type MeasureAppReturnType,
  type RunEnclaveParameters,
  type RunEnclaveReturnType,
} from '../../enclave/index.js';

export type {
  BuildAppParameters,
  BuildAppReturnType,
  MeasureAppReturnType,
  RunEnclaveParameters,
  RunEnclaveReturnType,
};
export {
  parseFingerprint,
  formatFingerprint,
  iexecEnv,
  runEnclave,
  describeTunnel,
} from '../../enclave/index.js';
/** Parse `1G`, `512M`, `4096` (binary units) into bytes. */
export { parseSize as parseMemorySize } from '../../enclave/index.js';

export interface BuildAppSdkParameters extends BuildAppParameters {
  /** Also write the `mrenclave` JSON to this file (0644), for `app deploy --mrenclave @file`. */
  mrenclaveOut?: string;
}

/** Build a protected image (`sealwork app build`). */
export async function buildApp(
  p: BuildAppSdkParameters,
): Promise<BuildAppReturnType & { mrenclaveFile?: string }> {
  const { mrenclaveOut, ...rest } = p;
  if (mrenclaveOut) await assertWritableTarget(resolve(mrenclaveOut), p.force ?? false);
  const r = await buildAppImage(rest);
  if (!mrenclaveOut) return r;
  const file = resolve(mrenclaveOut);
  await writeFileAtomic(file, `${JSON.stringify(r.mrenclaveJson)}\n`, { force: p.force });
  return { ...r, mrenclaveFile: file };
}

export interface MeasureAppParameters {
  image: string;
  /** Optional: also decrypt and check every file of encrypted regions (not needed for the identity). */
  fsKeyFile?: string;
  workDir?: string;
}

/** Recompute the identity of a protected image (`sealwork app measure`). */
export function measureApp(p: MeasureAppParameters): Promise<MeasureAppReturnType> {
  return measureAppImage(p.image, { fsKeyFile: p.fsKeyFile, workDir: p.workDir });
}

export interface ExecAppParameters extends Omit<
  RunEnclaveParameters,
  'fspfKey' | 'fspfTag' | 'env' | 'timeoutMs' | 'outDir' | 'limits'
> {
  /** Folder that receives /iexec_out; default a fresh `iexec_out-<time>-<id>` in the current folder. */
  outDir?: string;
  /** Sandbox bounds: a record, or `name=value` strings (names of SandboxLimitOverrides). */
  limits?: SandboxLimitOverrides | string[];
  fspfKey?: string;
  fspfTag?: string;
  /** `MrEnclave|FSPF_KEY|FSPF_TAG`: gives key and tag, and MrEnclave is checked too. */
  fingerprint?: string;
  /** `K=V` strings or a record. */
  env?: string[] | Record<string, string>;
  /** Milliseconds, or a duration such as `60s`, `2m`, `500ms` (a bare number is seconds). */
  timeout?: string | number;
  /**
   * Network shield (apps built with egress destinations): private or loopback hosts the app's
   * destinations may reach, as the worker's --allow-fetch-host entries; public addresses always.
   */
  allowFetchHosts?: string[];
}

/** Parse `500ms`, `60s`, `2m`, `1h`, or seconds. */
export function parseRunTimeout(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (!m)
    throw new SealworkError('DURATION_INVALID', `Invalid duration "${v}".`, {
      hint: 'Use e.g. 500ms, 60s, 2m or 1h.',
    });
  const n =
    Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (!(n > 0))
    throw new SealworkError('DURATION_INVALID', `Invalid duration "${v}".`, {
      hint: 'Give a positive duration.',
    });
  return Math.round(n);
}

function parseEnv(env: ExecAppParameters['env']): Record<string, string> {
  if (!env) return {};
  if (!Array.isArray(env)) return env;
  const out: Record<string, string> = {};
  for (const kv of env) {
    const i = kv.indexOf('=');
    if (i <= 0)
      throw new SealworkError('ENV_INVALID', `Invalid --env "${kv.split('=')[0]}": expected K=V.`, {
        hint: 'Write --env NAME=value.',
      });
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

const LIMIT_NAMES = Object.keys(LIMIT_ENV) as (keyof SandboxLimitOverrides)[];

/** `name=value` limit strings (e.g. `processes=64`, `resultBytes=10M`) as overrides. */
export function parseLimits(limits: ExecAppParameters['limits']): SandboxLimitOverrides | undefined {
  if (limits === undefined || !Array.isArray(limits)) return limits;
  const out: SandboxLimitOverrides = {};
  for (const kv of limits) {
    const [name, value] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    if (!LIMIT_NAMES.includes(name as keyof SandboxLimitOverrides) || kv.indexOf('=') <= 0)
      throw new SealworkError('SANDBOX_LIMIT_INVALID', `Unknown sandbox limit "${kv}".`, {
        hint: `Write --limit NAME=VALUE with NAME one of ${LIMIT_NAMES.join(', ')}.`,
      });
    out[name as keyof SandboxLimitOverrides] = /bytes$/i.test(name) ? parseSize(value, name) : Number(value);
  }
  return out;
}

/** A new, empty output folder for one run: `iexec_out-<time>-<id>` under `dir`. */
export async function freshOutDir(dir = '.'): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const path = resolve(dir, `iexec_out-${stamp}-${randomBytes(3).toString('hex')}`);
  await fs.mkdir(path, { mode: 0o700 });
  return path;
}

/** Run a protected image in the sandbox (`sealwork app exec`); development path without the SMS. */
export async function execApp(p: ExecAppParameters): Promise<RunEnclaveReturnType & { outDir: string }> {
  const fp = p.fingerprint ? parseFingerprint(p.fingerprint) : undefined;
  const fspfKey = p.fspfKey ?? fp?.fspfKey;
  const fspfTag = p.fspfTag ?? fp?.fspfTag;
  if (!fspfKey || !fspfTag)
    throw new SealworkError(
      'FSPF_KEY_REQUIRED',
      'The FSPF key and tag are required to run a protected image.',
      {
        hint: 'Pass --fspf-key and --fspf-tag (or --fingerprint), as printed by `sealwork app build`.',
      },
    );
  const limits = parseLimits(p.limits);
  const timeoutMs = p.timeout === undefined ? undefined : parseRunTimeout(p.timeout);
  const outDir = p.outDir ?? (await freshOutDir());
  const { allowFetchHosts, ...rest } = p;
  const r = await runEnclave({
    network: { allowAddress: shieldAddressRule(fetchGuard(allowFetchHosts ?? allowFetchHostsFromEnv())) },
    ...rest,
    fspfKey,
    fspfTag,
    ...(fp && !p.mrenclave ? { mrenclave: fp.mrenclave } : {}),
    env: parseEnv(p.env),
    timeoutMs,
    outDir,
    limits,
  });
  return { ...r, outDir };
}
