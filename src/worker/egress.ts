/**
 * Where the worker's downloads may connect (docs/worker.md, "Which addresses downloads may reach").
 *
 * Dataset, input-file and app-image URLs are chosen by dataset owners, requesters and app
 * developers; fetched from inside the worker's network they could reach what only the worker host
 * can reach (its loopback services, its private network, a cloud metadata endpoint) and hand the
 * answer to an app anyone can write. So, by default, a worker download connects only to public
 * addresses. The check is made on the address the socket is actually connected to: names are
 * resolved here (`dns.lookup`), the forbidden answers dropped, and the socket given only what is
 * left (a custom `lookup` on the request); an IP literal is checked directly; and the connected
 * socket's remote address is checked once more. The operator allows exceptions (`host[:port]`,
 * an address with an optional port, or a CIDR).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { SealworkError, isSealworkError } from '../errors.js';

/** One exception to the public-only rule: a host name (as in the URL) or an address range. */
export type FetchAllowRule =
  | { kind: 'host'; host: string; port?: number; text: string }
  | { kind: 'cidr'; bytes: Uint8Array; prefix: number; port?: number; text: string };

/**
 * The address policy of a download: only public addresses, plus `allow`. Given to a fetch, it
 * applies to every hop of a redirect chain.
 */
export interface FetchGuard {
  allow: readonly FetchAllowRule[];
}

/**
 * Refusals of the worker's own download policy (file:// off, a non-public address, a bad
 * redirect): kept as they are by the callers, never turned into a retried download failure.
 */
const FETCH_REFUSALS = [
  'FILE_URL_REFUSED',
  'FETCH_ADDRESS_REFUSED',
  'FETCH_REDIRECT_REFUSED',
  'FETCH_TOO_MANY_REDIRECTS',
] as const;

export function isFetchRefusal(e: unknown): boolean {
  return FETCH_REFUSALS.some((c) => isSealworkError(e, c));
}

/** The worker's default: public addresses only. */
export const PUBLIC_ONLY: FetchGuard = Object.freeze({ allow: Object.freeze([]) });

/** 16 bytes for an IPv6 address (IPv4 mapped as ::ffff:a.b.c.d), or undefined when not an IP. */
export function ipBytes(address: string): Uint8Array | undefined {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v = isIP(a);
  if (v === 4) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    a.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  if (v !== 6) return undefined;
  let text = a.toLowerCase();
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    v4[1]!.split('.').forEach((p) => tail.push(Number(p)));
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  if (tail.length) out.set(tail, 12);
  return out;
}

function inRange(bytes: Uint8Array, net: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 8) {
    const n = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - n)) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (net[bit / 8]! & mask)) return false;
  }
  return true;
}

/** `a.b.c.d/n` or `v6/n` as a range in the 16-byte space (IPv4 as ::ffff:0:0/96). */
function range(cidr: string): { bytes: Uint8Array; prefix: number } {
  const [addr, len] = cidr.split('/') as [string, string];
  const bytes = ipBytes(addr)!;
  return { bytes, prefix: Number(len) + (isIP(addr) === 4 ? 96 : 0) };
}

/**
 * Not public: unspecified, "this network", loopback, RFC 1918 private, CGNAT, link-local, IETF
 * protocol assignments, documentation, benchmarking, multicast, reserved and broadcast.
 */
const FORBIDDEN_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(range);

/**
 * Not public in IPv6: IPv4-compatible (incl. :: and ::1), discard, NAT64 local use, Teredo,
 * documentation, unique-local, link-local, site-local, multicast.
 */
const FORBIDDEN_V6 = [
  '::/96',
  '100::/64',
  '64:ff9b:1::/48',
  '2001::/32',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
].map(range);

const MAPPED = range('::ffff:0:0/96');
const NAT64 = range('64:ff9b::/96');
const SIX_TO_FOUR = range('2002::/16');

function v4Forbidden(b: Uint8Array): boolean {
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(b, 12);
  return FORBIDDEN_V4.some((r) => inRange(mapped, r.bytes, r.prefix));
}

/**
 * Is this address one a worker download may not reach by default? IPv4-mapped, NAT64 and 6to4
 * addresses are judged by the IPv4 address they carry. Anything not an IP address is forbidden.
 */
export function isForbiddenAddress(address: string): boolean {
  const b = ipBytes(address);
  if (!b) return true;
  if (inRange(b, MAPPED.bytes, MAPPED.prefix)) return v4Forbidden(b.subarray(12));
  if (inRange(b, NAT64.bytes, NAT64.prefix)) return v4Forbidden(b.subarray(12));
  if (inRange(b, SIX_TO_FOUR.bytes, SIX_TO_FOUR.prefix)) return v4Forbidden(b.subarray(2, 6));
  return FORBIDDEN_V6.some((r) => inRange(b, r.bytes, r.prefix));
}

function invalid(entry: string, why: string): SealworkError {
  return new SealworkError(
    'FETCH_ALLOWLIST_INVALID',
    `Cannot use the fetch allowlist entry "${entry}": ${why}.`,
    {
      hint: 'Give host[:port] (e.g. localhost:8080), an address with an optional port (127.0.0.1:8080, [::1]:8080) or a CIDR (10.0.0.0/8, fd00::/8).',
      details: { entry },
    },
  );
}

function parsePort(entry: string, p: string | undefined): number | undefined {
  if (p === undefined) return undefined;
  const n = Number(p);
  if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw invalid(entry, `${p} is not a port`);
  return n;
}

/** One allowlist entry: `host[:port]`, `a.b.c.d[:port]`, `[v6][:port]`, a bare IPv6 address, or a CIDR. */
export function parseAllowRule(entry: string): FetchAllowRule {
  const text = entry.trim();
  if (!text) throw invalid(entry, 'it is empty');
  if (text.includes('/')) {
    const [addr, len, more] = text.split('/');
    const v = isIP(addr ?? '');
    const n = Number(len);
    if (more !== undefined || !v || !/^\d+$/.test(len ?? '') || n > (v === 4 ? 32 : 128))
      throw invalid(entry, 'not a CIDR');
    const r = range(`${addr}/${n}`);
    return { kind: 'cidr', ...r, text };
  }
  if (isIP(text) === 6) return { kind: 'cidr', bytes: ipBytes(text)!, prefix: 128, text };
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw invalid(entry, `${bracketed[1]} is not an IPv6 address`);
    const port = parsePort(entry, bracketed[2]);
    return { kind: 'cidr', bytes: ipBytes(bracketed[1]!)!, prefix: 128, ...(port ? { port } : {}), text };
  }
  const [host, p, more] = text.split(':');
  if (more !== undefined || !host) throw invalid(entry, 'not host[:port]');
  const port = parsePort(entry, p);
  if (isIP(host) === 4)
    return { kind: 'cidr', bytes: ipBytes(host)!, prefix: 128, ...(port ? { port } : {}), text };
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(host))
    throw invalid(entry, `${host} is not a host name`);
  return { kind: 'host', host: host.toLowerCase().replace(/\.$/, ''), ...(port ? { port } : {}), text };
}

/** A guard from allowlist entries (each checked: `FETCH_ALLOWLIST_INVALID`). */
export function fetchGuard(entries: readonly string[] = []): FetchGuard {
  return { allow: entries.map(parseAllowRule) };
}

/** The allowlist entries in `SEALWORK_ALLOW_FETCH_HOSTS` (comma- or space-separated). */
export function allowFetchHostsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.SEALWORK_ALLOW_FETCH_HOSTS ?? '').split(/[\s,]+/).filter(Boolean);
}

/** The `host[:port]` allowlist entry for the origin of `url` (its host and its effective port). */
export function originRule(url: string): string {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `${u.hostname}:${port}`;
}

function urlHost(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
}

function urlPort(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

/** Does an allowlist rule name this URL's host (host rules: the name as written in the URL)? */
function hostAllowed(guard: FetchGuard, url: URL): boolean {
  const host = urlHost(url);
  const port = urlPort(url);
  return guard.allow.some(
    (r) => r.kind === 'host' && r.host === host && (r.port === undefined || r.port === port),
  );
}

/** May a download of `url` connect to `address`? */
export function addressAllowed(guard: FetchGuard, url: URL, address: string): boolean {
  if (hostAllowed(guard, url)) return true;
  const b = ipBytes(address);
  if (!b) return false;
  const port = urlPort(url);
  if (
    guard.allow.some(
      (r) => r.kind === 'cidr' && inRange(b, r.bytes, r.prefix) && (r.port === undefined || r.port === port),
    )
  )
    return true;
  return !isForbiddenAddress(address);
}

/** The refusal of a download that would reach a non-public address. */
export function addressRefused(url: URL, addresses: string[]): SealworkError {
  return new SealworkError(
    'FETCH_ADDRESS_REFUSED',
    `This worker does not download ${url.href}: it would connect to ${addresses.join(', ')}, which is not a public address.`,
    {
      hint: 'Dataset, input-file and app-image URLs must reach public addresses; a worker operator can allow a host, address or range with --allow-fetch-host <host[:port]|CIDR> (SEALWORK_ALLOW_FETCH_HOSTS).',
      details: { url: url.href, addresses },
    },
  );
}

/**
 * The request options that hold a download of `url` to the guard: for a name, a `lookup` that
 * resolves it and keeps only the allowed addresses (refusing when none is left); for an IP
 * literal, the check right here (Node does not call `lookup` for literals). Throws
 * `FETCH_ADDRESS_REFUSED`.
 */
export function guardedLookup(guard: FetchGuard, url: URL): { lookup?: LookupFunction } {
  const host = urlHost(url);
  if (isIP(host)) {
    if (!addressAllowed(guard, url, host)) throw addressRefused(url, [host]);
    return {};
  }
  if (hostAllowed(guard, url)) return {};
  const lookup = ((hostname: string, options: unknown, cb: unknown) => {
    const callback = (typeof options === 'function' ? options : cb) as (
      err: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void;
    const opts = (typeof options === 'object' && options ? options : {}) as {
      all?: boolean;
      family?: number;
    };
    dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return callback(err, opts.all ? [] : '');
      const ok = addresses.filter((a) => addressAllowed(guard, url, a.address));
      if (!ok.length)
        return callback(
          addressRefused(
            url,
            addresses.map((a) => a.address),
          ) as unknown as NodeJS.ErrnoException,
          opts.all ? [] : '',
        );
      if (opts.all) callback(null, ok);
      else callback(null, ok[0]!.address, ok[0]!.family);
    });
  }) as LookupFunction;
  return { lookup };
}

/**
 * Check the socket's remote address once it is connected (the last word: whatever resolved the
 * name, this is the peer); destroys the request with `FETCH_ADDRESS_REFUSED` otherwise.
 */
export function checkConnectedSocket(
  guard: FetchGuard,
  url: URL,
  socket: Socket,
  destroy: (e: Error) => void,
): void {
  const check = () => {
    const peer = socket.remoteAddress;
    if (peer && !addressAllowed(guard, url, peer)) destroy(addressRefused(url, [peer]));
  };
  if (socket.connecting) socket.once('connect', check);
  else check();
}

/**
 * The network shield's address rule for an app's measured destination `host:port`: the same
 * rules as the worker's downloads (public addresses, plus the operator's allowlist, a host rule
 * matching the destination's name).
 */
export function shieldAddressRule(
  guard: FetchGuard,
): (host: string, port: number, address: string) => boolean {
  return (host, port, address) => addressAllowed(guard, new URL(`https://${host}:${port}`), address);
}
