/**
 * The mutation engine of `npm run fuzz`: a seeded PRNG, byte-level mutators (bit flips, interesting
 * values, little-endian length fields, inserts, deletes, duplicated and spliced ranges, truncation)
 * and a JSON-aware one (replace, drop or add a member or an array element with values of every
 * type), in the manner of AFL's havoc stage. Everything is derived from the PRNG, so a run is
 * reproducible from its seed.
 */

export type Rng = () => number;

/** xorshift128+ style generator, seeded by a 32-bit integer: fast and reproducible. */
export function rng(seed: number): Rng {
  let a = seed >>> 0 || 0x9e3779b9;
  let b = (seed * 2654435761) >>> 0 || 0x85ebca6b;
  return () => {
    let t = a;
    const s = b;
    a = s;
    t ^= t << 11;
    t ^= t >>> 8;
    b = (t ^ s ^ (s >>> 19)) >>> 0;
    return b / 0x100000000;
  };
}

export const int = (r: Rng, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x30, 0x0a, 0x22, 0x5c, 0x2d];
const INTERESTING_32 = [0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000];

/** One havoc step on `b` (may return a new, resized array). */
function havocOnce(r: Rng, b: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  const n = b.length;
  const at = () => int(r, Math.max(n, 1));
  switch (int(r, 11)) {
    case 0: {
      if (n === 0) return b;
      const i = at();
      b[i] = b[i]! ^ (1 << int(r, 8));
      return b;
    }
    case 1: {
      if (n === 0) return b;
      b[at()] = int(r, 256);
      return b;
    }
    case 2: {
      if (n === 0) return b;
      b[at()] = pick(r, INTERESTING_8);
      return b;
    }
    case 3: {
      // A little-endian u16/u32 length field set to an interesting value (quote headers, DER lengths).
      if (n < 4) return b;
      const i = int(r, n - 3);
      const v = pick(r, INTERESTING_32);
      const wide = r() < 0.5;
      b[i] = v & 0xff;
      b[i + 1] = (v >>> 8) & 0xff;
      if (wide) {
        b[i + 2] = (v >>> 16) & 0xff;
        b[i + 3] = (v >>> 24) & 0xff;
      }
      return b;
    }
    case 4: {
      // add/subtract a small number (off-by-one lengths)
      if (n === 0) return b;
      const i = at();
      b[i] = (b[i]! + (r() < 0.5 ? 1 : -1) * (1 + int(r, 16))) & 0xff;
      return b;
    }
    case 5: {
      // delete a range
      if (n < 2) return b;
      const i = at();
      const len = 1 + int(r, Math.min(64, n - i));
      return concat(b.subarray(0, i), b.subarray(i + len));
    }
    case 6: {
      // insert random bytes
      const i = at();
      const ins = Uint8Array.from({ length: 1 + int(r, 32) }, () => int(r, 256));
      return concat(b.subarray(0, i), ins, b.subarray(i));
    }
    case 7: {
      // duplicate a range in place
      if (n < 2) return b;
      const i = at();
      const len = 1 + int(r, Math.min(256, n - i));
      return concat(b.subarray(0, i + len), b.subarray(i, i + len), b.subarray(i + len));
    }
    case 8: {
      // splice with another seed
      const o = others.length ? pick(r, others) : b;
      if (o.length === 0 || n === 0) return b;
      const i = at();
      const j = int(r, o.length);
      return concat(b.subarray(0, i), o.subarray(j, j + 1 + int(r, 512)));
    }
    case 9:
      // truncate
      return b.subarray(0, at());
    default: {
      // overwrite a range with copies of one byte
      if (n === 0) return b;
      const i = at();
      b.fill(pick(r, INTERESTING_8), i, Math.min(n, i + 1 + int(r, 32)));
      return b;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** 1–8 stacked havoc steps on a copy of `seed`. */
export function mutateBytes(r: Rng, seed: Uint8Array, others: readonly Uint8Array[] = []): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  for (let k = 1 + int(r, 8); k > 0; k--) b = havocOnce(r, b, others);
  return b;
}

/** Same, restricted to `[from, to)` of the seed (the rest is kept as it is). */
export function mutateRange(r: Rng, seed: Uint8Array, from: number, to: number): Uint8Array {
  const mid = mutateBytes(r, seed.subarray(from, to));
  return concat(seed.subarray(0, from), mid, seed.subarray(to));
}

// ---------------------------------------------------------------- JSON

const LONG = 'A'.repeat(70_000);

/** A value of any JSON type, biased towards the edge cases parsers get wrong. */
export function randomJson(r: Rng, depth = 0): unknown {
  switch (int(r, depth > 2 ? 9 : 12)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1, 1.5, 2 ** 53, -(2 ** 63), 1e308, -0, 4294967296, 65536]);
    case 3:
      return '';
    case 4:
      return pick(r, ['0x', '0x00', `0x${'f'.repeat(64)}`, `0x${'0'.repeat(40)}`, '-1', '1e999', 'NaN']);
    case 5:
      return pick(r, ['\u0000', '\ud800', '../../etc/passwd', '__proto__', 'constructor', '💥', '\n']);
    case 6:
      return LONG.slice(0, 1 + int(r, LONG.length));
    case 7:
      return String(int(r, 1e9));
    case 8:
      return `0x${Array.from({ length: int(r, 140) }, () => '0123456789abcdefABCDEF'[int(r, 22)]).join('')}`;
    case 9:
      return [];
    case 10:
      return Array.from({ length: 1 + int(r, 4) }, () => randomJson(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: 1 + int(r, 3) }, () => [
          pick(r, ['a', 'x', '__proto__', 'order', 'kind']),
          randomJson(r, depth + 1),
        ]),
      );
  }
}

/** Paths to every value inside `v` (objects and arrays), the root included. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (out.length > 2000) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

/**
 * 1–3 structural changes to a copy of `doc`: a value replaced by one of another type, a member or
 * element dropped, one added, or a string value mutated byte-wise (it may itself hold JSON, as the
 * TCB info does). `keep` lists top-level members to leave alone.
 */
export function mutateJson(r: Rng, doc: unknown, keep: readonly string[] = []): unknown {
  let root = structuredClone(doc);
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const ps = paths(root).filter((p) => !(p.length > 0 && keep.includes(String(p[0]))));
    const p = pick(r, ps);
    if (p.length === 0) {
      root = r() < 0.9 ? root : randomJson(r);
      continue;
    }
    const parent = p.slice(0, -1).reduce<any>((o, key) => o[key], root);
    const key = p[p.length - 1]!;
    const cur = parent[key];
    const choice = int(r, 5);
    if (choice === 0) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (choice === 1 && typeof cur === 'string') {
      const m = mutateBytes(r, Buffer.from(cur, 'latin1'));
      parent[key] = Buffer.from(m).toString('latin1');
    } else if (choice === 2 && (Array.isArray(cur) || (cur && typeof cur === 'object'))) {
      if (Array.isArray(cur)) cur.push(randomJson(r));
      else (cur as Record<string, unknown>)[pick(r, ['x', '__proto__', 'extra'])] = randomJson(r);
    } else parent[key] = randomJson(r);
  }
  return root;
}

const enc = new TextEncoder();

/** A JSON seed mutated either structurally (then serialised) or as text bytes. */
export function mutateJsonText(r: Rng, doc: unknown, keep: readonly string[] = []): Uint8Array {
  if (r() < 0.6) return enc.encode(JSON.stringify(mutateJson(r, doc, keep)) ?? 'null');
  return mutateBytes(r, enc.encode(JSON.stringify(doc)));
}
