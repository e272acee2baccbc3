/**
 * Unpack limits: how much an image may write to disk when its archive is extracted or its layers
 * are unpacked (`app build`, `app exec`, `app measure`, and the worker's measurement).
 *
 * A layer is a gzip stream, and gzip expands up to about 1,000×: a 4 MB `docker save` archive can
 * write 4 GB. Each unpack step (extracting an image archive; unpacking all the layers of an image)
 * is counted separately against these bounds, checked before anything is written:
 *
 * | bound | default | environment variable |
 * | --- | --- | --- |
 * | total bytes written (file contents, hard-link copies included) | 4 GiB | `SEALWORK_UNPACK_MAX_BYTES` (`8G`, `512M`, bytes) |
 * | expansion ratio: bytes written / compressed input bytes, once past the grace size | 100 | `SEALWORK_UNPACK_MAX_RATIO` |
 * | grace size: written bytes the ratio never refuses | 64 MiB | `SEALWORK_UNPACK_RATIO_GRACE` |
 * | files, folders and links created | 200,000 | `SEALWORK_UNPACK_MAX_FILES` |
 *
 * Crossing a bound stops the unpacking at once (`IMAGE_TOO_LARGE`, `IMAGE_EXPANSION_REFUSED`,
 * `IMAGE_TOO_MANY_FILES`) and the partial output is removed.
 */
import { SealworkError } from '../errors.js';
import { parseSize } from './util.js';

export interface UnpackLimits {
  /** Most bytes one unpack step may write (default 4 GiB). */
  maxBytes: number;
  /** Most bytes written per byte of compressed input, beyond `ratioGraceBytes` (default 100). */
  maxRatio: number;
  /** Bytes written that the ratio never refuses, so small images of very compressible files pass (default 64 MiB). */
  ratioGraceBytes: number;
  /** Most files, folders and links one unpack step may create (default 200,000). */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxBytes: 4 * 1024 ** 3,
  maxRatio: 100,
  ratioGraceBytes: 64 * 1024 ** 2,
  maxEntries: 200_000,
});

/** The environment variable of each limit (also named in the refusal's hint). */
export const UNPACK_LIMIT_ENV: Readonly<Record<keyof UnpackLimits, string>> = Object.freeze({
  maxBytes: 'SEALWORK_UNPACK_MAX_BYTES',
  maxRatio: 'SEALWORK_UNPACK_MAX_RATIO',
  ratioGraceBytes: 'SEALWORK_UNPACK_RATIO_GRACE',
  maxEntries: 'SEALWORK_UNPACK_MAX_FILES',
});

function invalid(name: string, value: unknown, hint: string): SealworkError {
  return new SealworkError('UNPACK_LIMIT_INVALID', `Invalid unpack limit ${name}: ${String(value)}.`, {
    hint,
    details: { limit: name, value: String(value) },
  });
}

function sizeLimit(name: string, v: string | number): number {
  try {
    return parseSize(v, name);
  } catch {
    throw invalid(name, v, 'Give a positive number of bytes or a size such as 512M or 8G.');
  }
}

function countLimit(name: string, v: string | number, integer: boolean): number {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n)))
    throw invalid(name, v, integer ? 'Give a positive whole number.' : 'Give a positive number.');
  return n;
}

/**
 * The unpack limits in force: `overrides` (e.g. an SDK option), else the environment
 * (`SEALWORK_UNPACK_*`), else the defaults. The one place the environment is read.
 */
export function unpackLimits(
  overrides: Partial<UnpackLimits> = {},
  env: NodeJS.ProcessEnv = process.env,
): UnpackLimits {
  const pick = <K extends keyof UnpackLimits>(k: K, parse: (name: string, v: string | number) => number) => {
    const o = overrides[k];
    if (o !== undefined) return parse(k, o);
    const e = env[UNPACK_LIMIT_ENV[k]];
    if (e !== undefined && e.trim() !== '') return parse(UNPACK_LIMIT_ENV[k], e);
    return DEFAULT_UNPACK_LIMITS[k];
  };
  return {
    maxBytes: pick('maxBytes', sizeLimit),
    maxRatio: pick('maxRatio', (n, v) => countLimit(n, v, false)),
    ratioGraceBytes: pick('ratioGraceBytes', sizeLimit),
    maxEntries: pick('maxEntries', (n, v) => countLimit(n, v, true)),
  };
}

function human(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${Number(v.toFixed(1))} ${units[i]}`;
}

/**
 * The running count of one unpack step: `take(n)` before writing n bytes, `entry()` before
 * creating a file, folder or link; each throws as soon as a bound would be crossed.
 */
export class UnpackBudget {
  bytes = 0;
  entries = 0;
  readonly limits: UnpackLimits;

  /**
   * @param what the image or archive being unpacked, for messages
   * @param inputBytes size of the (compressed) input; without it the ratio is not checked
   */
  constructor(
    readonly what: string,
    limits: Partial<UnpackLimits> = {},
    readonly inputBytes?: number,
  ) {
    this.limits = unpackLimits(limits);
  }

  /** Count `n` more bytes to write; throws when the total or the ratio bound would be crossed. */
  take(n: number): void {
    const next = this.bytes + n;
    const { maxBytes, maxRatio, ratioGraceBytes } = this.limits;
    if (next > maxBytes)
      throw new SealworkError(
        'IMAGE_TOO_LARGE',
        `Unpacking ${this.what} would write more than ${human(maxBytes)}, the unpack limit on total size; it was stopped and its partial output removed.`,
        {
          hint: `If the image is genuine, raise the limit with ${UNPACK_LIMIT_ENV.maxBytes}=<size> (e.g. 8G) or the unpack limits option maxBytes.`,
          details: { image: this.what, limit: maxBytes, wouldWrite: next, env: UNPACK_LIMIT_ENV.maxBytes },
        },
      );
    if (this.inputBytes !== undefined && next > ratioGraceBytes && next > maxRatio * this.inputBytes)
      throw new SealworkError(
        'IMAGE_EXPANSION_REFUSED',
        `Unpacking ${this.what} would expand ${human(this.inputBytes)} of input to more than ${maxRatio}× its size (${human(Math.max(ratioGraceBytes, maxRatio * this.inputBytes))}): a decompression bomb? It was stopped and its partial output removed.`,
        {
          hint: `If the image is genuine, raise the ratio with ${UNPACK_LIMIT_ENV.maxRatio}=<n> or the unpack limits option maxRatio.`,
          details: {
            image: this.what,
            inputBytes: this.inputBytes,
            maxRatio,
            wouldWrite: next,
            env: UNPACK_LIMIT_ENV.maxRatio,
          },
        },
      );
    this.bytes = next;
  }

  /** Count `n` more files, folders or links to create; throws past the bound. */
  entry(n = 1): void {
    const next = this.entries + n;
    if (next > this.limits.maxEntries)
      throw new SealworkError(
        'IMAGE_TOO_MANY_FILES',
        `Unpacking ${this.what} would create more than ${this.limits.maxEntries} files, folders and links, the unpack limit; it was stopped and its partial output removed.`,
        {
          hint: `If the image is genuine, raise the limit with ${UNPACK_LIMIT_ENV.maxEntries}=<n> or the unpack limits option maxEntries.`,
          details: { image: this.what, limit: this.limits.maxEntries, env: UNPACK_LIMIT_ENV.maxEntries },
        },
      );
    this.entries = next;
  }
}
