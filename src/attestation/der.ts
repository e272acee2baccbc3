/**
 * A minimal, bounds-checked DER reader/writer: just enough to walk X.509 CRLs and the Intel
 * SGX PCK extension, and to build that extension for the simulated platform. Not a general
 * ASN.1 library; it never reads past the buffer it is given.
 */
import { SealworkError } from '../errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte in the parent buffer. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset one past the last content byte. */
  end: number;
  content: Uint8Array;
  /** The whole element (tag, length and content). */
  raw: Uint8Array;
}

function derError(what: string): SealworkError {
  return new SealworkError('DER_MALFORMED', `Malformed DER: ${what}.`, {
    hint: 'The certificate, CRL or extension is corrupted.',
  });
}

/** Read one TLV at `offset` of `buf` (definite lengths only, as DER requires). */
export function readTlv(buf: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw derError('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('high tag numbers are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw derError('unsupported length');
    if (p + n > buf.length) throw derError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  const end = p + len;
  if (end > buf.length) throw derError('length past the end of the data');
  return {
    tag,
    start: offset,
    contentStart: p,
    end,
    content: buf.subarray(p, end),
    raw: buf.subarray(offset, end),
  };
}

/** The child elements of a constructed element's content. */
export function children(content: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < content.length) {
    const t = readTlv(content, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Decode an OBJECT IDENTIFIER's content to dotted form (arcs of any size, e.g. 2.25.<UUID>). */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw derError('empty OID');
  if (content.length > 64) throw derError('OID too long');
  const parts: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    v = v * 128n + BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80n ? v / 40n : 2n;
        parts.push(first, v - first * 40n);
      } else parts.push(v);
      v = 0n;
    } else if (i === content.length - 1) throw derError('truncated OID arc');
  }
  return parts.join('.');
}

/** Decode a small non-negative INTEGER's content. */
export function decodeSmallInt(content: Uint8Array): number {
  if (content.length === 0 || content.length > 6) throw derError('integer out of range');
  if (content[0]! & 0x80) throw derError('negative integer');
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

// ---- encoding (for the simulated platform) ----

function encLen(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const l = encLen(content.length);
  const out = new Uint8Array(1 + l.length + content.length);
  out[0] = tag;
  out.set(l, 1);
  out.set(content, 1 + l.length);
  return out;
}

export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(0x30, Buffer.concat(items));
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const first = arcs[0]! * 40n + arcs[1]!;
  const bytes: number[] = [];
  for (const a of [first, ...arcs.slice(2)]) {
    const stack: number[] = [Number(a & 0x7fn)];
    let v = a >> 7n;
    while (v > 0n) {
      stack.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(...stack);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

export function int(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

export function octets(b: Uint8Array): Uint8Array {
  return tlv(0x04, b);
}

export function enumerated(n: number): Uint8Array {
  return tlv(0x0a, Uint8Array.of(n));
}
