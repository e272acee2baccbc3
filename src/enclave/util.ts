/** Small parsers shared by the enclave runtime: sizes, command lines, image paths, hex. */
import { timingSafeEqual } from 'node:crypto';
import { SealworkError, type ErrorCode } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Parse `1G`, `512M`, `64k`, `4096` (binary units) into bytes. */
export function parseSize(value: string | number, what = 'size'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new SealworkError('SIZE_INVALID', `Invalid ${what}: ${value}.`, {
        hint: 'Give a positive number of bytes or a size such as 64M or 1G.',
      });
    return value;
  }
  const m = /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!m || !Number.isSafeInteger(n) || n <= 0)
    throw new SealworkError('SIZE_INVALID', `Invalid ${what} "${value}".`, {
      hint: 'Use a number of bytes or a size such as 8M, 64M or 1G.',
    });
  return n;
}

/**
 * Split a command line into argv: whitespace separates words, single and double quotes group,
 * backslash escapes the next character (outside single quotes). No expansion of any kind.
 */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote)
    throw new SealworkError('COMMAND_INVALID', `Unterminated ${quote} quote in command "${cmd}".`, {
      hint: 'Close the quote.',
    });
  if (inWord) out.push(cur);
  return out;
}

/**
 * Normalise a path inside an image to `/a/b` form. Throws `code` when it has a `..` component
 * (it could climb out of the root).
 */
export function imagePath(name: string, code: ErrorCode = 'PATH_TRAVERSAL'): string {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..')
      throw new SealworkError(code, `Path "${name}" climbs out of the root with "..".`, {
        hint: 'The image is malformed or malicious; rebuild it from a trusted source.',
        details: { path: name },
      });
    if (p.includes('\0'))
      throw new SealworkError(code, `Path "${JSON.stringify(name)}" holds a NUL byte.`, {
        details: { path: name },
      });
    parts.push(p);
  }
  return `/${parts.join('/')}`;
}

/** Components of a normalised image path (`/` → []). */
export function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

/** True when `path` equals `prefix` or lies under it (component-wise: `/app` covers `/app/x`, not `/apple`). */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

export function isHex(s: string, bytes: number): boolean {
  return s.length === bytes * 2 && /^[0-9a-f]+$/.test(s);
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
