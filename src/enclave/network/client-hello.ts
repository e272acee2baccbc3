/**
 * The first bytes of a tunnel the network shield lets through: a TLS ClientHello (RFC 8446 §4.1.2,
 * RFC 5246 §7.4.1.2) and the server name it asks for (SNI, RFC 6066 §3). The proxy reads only
 * this, never anything after it: it does not terminate TLS.
 */

/** What the bytes read so far say. */
export type ClientHelloVerdict =
  | { kind: 'incomplete' }
  | { kind: 'client-hello'; serverName: string | undefined; bytes: number }
  | { kind: 'not-tls'; why: string };

/** A ClientHello larger than this (over several records) is refused. */
export const MAX_CLIENT_HELLO = 64 * 1024;

const notTls = (why: string): ClientHelloVerdict => ({ kind: 'not-tls', why });

/**
 * Join the handshake bytes of the leading TLS records of `buf` (a ClientHello may span several).
 * Returns the handshake bytes and the bytes of records consumed, or a refusal.
 */
function handshakeBytes(buf: Uint8Array): { hs: Uint8Array; complete: boolean } | { why: string } {
  const parts: Uint8Array[] = [];
  let at = 0;
  let total = 0;
  while (at + 5 <= buf.length) {
    if (buf[at] !== 0x16) return { why: `record type ${buf[at]} is not a handshake` };
    if (buf[at + 1] !== 0x03 || buf[at + 2]! > 0x04) return { why: 'not a TLS record version' };
    const len = (buf[at + 3]! << 8) | buf[at + 4]!;
    if (len === 0 || len > 16384) return { why: `record length ${len}` };
    if (at + 5 + len > buf.length) break;
    parts.push(buf.subarray(at + 5, at + 5 + len));
    total += len;
    at += 5 + len;
    if (total >= 4) {
      const first = parts[0]!.length >= 4 ? parts[0]! : Buffer.concat(parts);
      const want = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (total >= want) return { hs: Buffer.concat(parts).subarray(0, want), complete: true };
    }
  }
  if (at === 0 && buf.length >= 1 && buf[0] !== 0x16)
    return { why: 'the first byte is not a TLS handshake record' };
  return { hs: Buffer.concat(parts), complete: false };
}

/** A reader over the ClientHello body that fails (returns undefined) on any overrun. */
function cursor(b: Uint8Array) {
  let at = 0;
  const take = (n: number) => {
    if (at + n > b.length) return undefined;
    const s = b.subarray(at, at + n);
    at += n;
    return s;
  };
  const num = (n: number) => {
    const s = take(n);
    return s === undefined ? undefined : s.reduce((v, x) => v * 256 + x, 0);
  };
  const vec = (lenBytes: number) => {
    const n = num(lenBytes);
    return n === undefined ? undefined : take(n);
  };
  return { take, num, vec, rest: () => b.length - at };
}

/** The host_name of a server_name extension body, or undefined when it has none. */
function serverNameOf(ext: Uint8Array): string | undefined | null {
  const c = cursor(ext);
  const list = c.vec(2);
  if (!list) return null;
  const l = cursor(list);
  while (l.rest() > 0) {
    const type = l.num(1);
    const name = l.vec(2);
    if (type === undefined || !name) return null;
    if (type === 0) return Buffer.from(name).toString('latin1');
  }
  return undefined;
}

/** Parse the ClientHello at the start of `buf` (bytes received on the tunnel so far). */
export function readClientHello(buf: Uint8Array): ClientHelloVerdict {
  if (buf.length > MAX_CLIENT_HELLO) return notTls('the ClientHello is too large');
  const r = handshakeBytes(buf);
  if ('why' in r) return notTls(r.why);
  if (r.hs.length >= 1 && r.hs[0] !== 0x01) return notTls(`handshake type ${r.hs[0]} is not a ClientHello`);
  if (!r.complete) return { kind: 'incomplete' };
  const c = cursor(r.hs.subarray(4));
  const version = c.num(2);
  if (version === undefined || version < 0x0301) return notTls('the ClientHello version is below TLS 1.0');
  if (!c.take(32) || !c.vec(1) || !c.vec(2) || !c.vec(1)) return notTls('a truncated ClientHello');
  if (c.rest() === 0) return { kind: 'client-hello', serverName: undefined, bytes: r.hs.length };
  const exts = c.vec(2);
  if (!exts || c.rest() !== 0) return notTls('malformed ClientHello extensions');
  const e = cursor(exts);
  let serverName: string | undefined;
  while (e.rest() > 0) {
    const type = e.num(2);
    const body = e.vec(2);
    if (type === undefined || !body) return notTls('malformed ClientHello extensions');
    if (type !== 0) continue;
    const n = serverNameOf(body);
    if (n === null) return notTls('a malformed server_name extension');
    if (serverName !== undefined) return notTls('two server_name extensions');
    serverName = n;
  }
  return { kind: 'client-hello', serverName, bytes: r.hs.length };
}
