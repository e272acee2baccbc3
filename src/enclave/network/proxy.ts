/**
 * The network shield's egress proxy (docs/enclave.md, "Network shield"). One per run, on a unix
 * socket that only the run's relay reaches (netns.ts); the app sees it as HTTPS_PROXY.
 *
 * For each tunnel, in order: an HTTP `CONNECT host:port` (nothing else is served); the
 * destination on the app's measured list; the name resolved here and every address held to the
 * operator's address rules (private and loopback refused unless allowlisted), the connection
 * pinned to an address that passed; `200`; then the first bytes must be a TLS ClientHello whose
 * SNI is the destination's name. Only then are bytes relayed, both ways, untouched: TLS is never
 * terminated, so the host sees ciphertext. Connections, bytes and time are bounded per run, and
 * each tunnel leaves a record (destination, address, bytes, verdict) — never the payload.
 */
import { lookup } from 'node:dns/promises';
import { promises as fs } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SealworkError, type ErrorCode } from '../../errors.js';
import { parseEgressEntry } from '../egress-list.js';
import { readClientHello } from './client-hello.js';

export interface EgressPolicy {
  /** The app's measured destinations (`host:port`, normalized). */
  destinations: readonly string[];
  /** May the shield connect to `address` for `host:port`? The operator's address rules. */
  allowAddress(host: string, port: number, address: string): boolean;
  /** Resolve a name to addresses (default: the system resolver, every address). */
  resolve?(host: string): Promise<string[]>;
}

export interface EgressLimits {
  /** Tunnels open at once. */
  concurrent: number;
  /** Tunnels in the whole run. */
  tunnels: number;
  /** Bytes relayed in the whole run, both directions. */
  bytes: number;
  /** Time allowed for the CONNECT request and the ClientHello. */
  handshakeMs: number;
  /** Lifetime of one tunnel. */
  tunnelMs: number;
}

export const DEFAULT_EGRESS_LIMITS: EgressLimits = {
  concurrent: 16,
  tunnels: 256,
  bytes: 256 * 1024 * 1024,
  handshakeMs: 10_000,
  tunnelMs: 120_000,
};

/** What one tunnel did: logged into the task's log. No payload, ever. */
export interface EgressRecord {
  destination: string;
  /** The address the tunnel was pinned to. */
  address?: string;
  verdict: 'allowed' | 'refused';
  code?: ErrorCode;
  reason?: string;
  bytesOut: number;
  bytesIn: number;
  ms: number;
}

/** One tunnel as a log line: destination, pinned address, verdict, bytes; never the payload. */
export function describeTunnel(t: EgressRecord): string {
  const to = t.address ? `${t.destination} (${t.address})` : t.destination;
  const why = t.code ? ` ${t.code}: ${t.reason}` : '';
  return `network shield: ${to} ${t.verdict}${why}; ${t.bytesOut} B out, ${t.bytesIn} B in, ${t.ms} ms`;
}

export interface EgressProxy {
  socketPath: string;
  records: EgressRecord[];
  close(): Promise<void>;
}

const MAX_REQUEST = 8 * 1024;

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
    readonly status: number,
  ) {
    super(reason);
  }
}

async function systemResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/** Read bytes until `done` says the prefix is enough, or the time or size bound is hit. */
function readUntil(sock: Socket, ms: number, done: (b: Buffer) => boolean, what: string): Promise<Buffer> {
  return new Promise((res, rej) => {
    let buf = Buffer.alloc(0);
    const finish = (err?: Refusal) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.pause();
      if (err) rej(err);
      else res(buf);
    };
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (done(buf)) finish();
    };
    const onEnd = () => finish(new Refusal('EGRESS_NOT_TLS', `the app closed before sending ${what}`, 400));
    const timer = setTimeout(
      () => finish(new Refusal('EGRESS_LIMIT', `no complete ${what} within ${ms} ms`, 408)),
      ms,
    );
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.resume();
  });
}

/** `CONNECT host:port HTTP/1.x` → the destination; anything else is refused. */
function parseConnect(head: Buffer): { host: string; port: number; text: string; rest: Buffer } {
  const end = head.indexOf('\r\n\r\n');
  if (end < 0) throw new Refusal('EGRESS_NOT_CONNECT', 'the request is too long or incomplete', 400);
  const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
  const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m)
    throw new Refusal(
      'EGRESS_NOT_CONNECT',
      `only HTTPS tunnels (CONNECT) are allowed, not "${line.slice(0, 80)}"`,
      405,
    );
  let dest;
  try {
    dest = parseEgressEntry(m[1]!);
  } catch {
    throw new Refusal('EGRESS_DESTINATION_REFUSED', `${m[1]} is not a host:port the shield may reach`, 403);
  }
  return { ...dest, rest: head.subarray(end + 4) };
}

/** Resolve, hold every address to the operator's rules, and connect to the first that passes. */
async function dialPinned(policy: EgressPolicy, host: string, port: number): Promise<Socket> {
  let addresses: string[];
  try {
    addresses = await (policy.resolve ?? systemResolve)(host);
  } catch {
    throw new Refusal('EGRESS_RESOLVE_FAILED', `${host} does not resolve`, 502);
  }
  const allowed = addresses.filter((a) => policy.allowAddress(host, port, a));
  if (allowed.length === 0)
    throw new Refusal(
      'EGRESS_ADDRESS_REFUSED',
      `${host} resolves to ${addresses.join(', ') || 'nothing'}, which the worker may not reach (private, loopback or reserved, and not allowlisted by the operator)`,
      403,
    );
  for (const address of allowed) {
    const s = await new Promise<Socket | undefined>((res) => {
      const sock = connect({ host: address, port, allowHalfOpen: true });
      sock.once('connect', () => res(sock));
      sock.once('error', () => res(undefined));
    });
    if (s) return s;
  }
  throw new Refusal(
    'EGRESS_CONNECT_FAILED',
    `cannot connect to ${host}:${port} (${allowed.join(', ')})`,
    502,
  );
}

/** The tunnel's first bytes: a ClientHello naming `host`. */
async function checkClientHello(app: Socket, first: Buffer, host: string, ms: number): Promise<Buffer> {
  let verdict = readClientHello(first);
  let buf = first;
  if (verdict.kind === 'incomplete') {
    const more = await readUntil(
      app,
      ms,
      (b) => readClientHello(Buffer.concat([first, b])).kind !== 'incomplete',
      'TLS ClientHello',
    );
    buf = Buffer.concat([first, more]);
    verdict = readClientHello(buf);
  }
  if (verdict.kind === 'not-tls')
    throw new Refusal('EGRESS_NOT_TLS', `the tunnel does not start with TLS (${verdict.why})`, 400);
  if (verdict.kind !== 'client-hello') throw new Refusal('EGRESS_NOT_TLS', 'an incomplete ClientHello', 400);
  const sni = verdict.serverName?.toLowerCase().replace(/\.$/, '');
  if (sni !== host)
    throw new Refusal(
      'EGRESS_SNI_MISMATCH',
      sni === undefined
        ? 'the ClientHello names no server (SNI)'
        : `the ClientHello asks for ${sni}, not ${host}`,
      403,
    );
  return buf;
}

/** The shared state of one run's proxy: its limits, its open tunnels and its byte budget. */
interface Run {
  policy: EgressPolicy;
  limits: EgressLimits;
  records: EgressRecord[];
  open: Set<Socket>;
  bytes: number;
}

function answer(app: Socket, r: Refusal): void {
  const body = `sealwork network shield: ${r.code}: ${r.reason}\n`;
  app.end(
    `HTTP/1.1 ${r.status} Refused\r\nX-Sealwork-Code: ${r.code}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Send the tunnel's first bytes (the checked ClientHello), then relay both ways, counting every byte
 * against the run's budget; resolves when the tunnel ends.
 */
function relay(run: Run, app: Socket, up: Socket, rec: EgressRecord, first: Buffer): Promise<void> {
  return new Promise((res) => {
    const stop = (code?: ErrorCode, reason?: string) => {
      if (code && !rec.code) Object.assign(rec, { code, reason });
      app.destroy();
      up.destroy();
    };
    const count = (n: number, dir: 'bytesOut' | 'bytesIn') => {
      rec[dir] += n;
      run.bytes += n;
      if (run.bytes > run.limits.bytes)
        stop('EGRESS_LIMIT', `the run's ${run.limits.bytes}-byte budget is spent`);
    };
    const timer = setTimeout(
      () => stop('EGRESS_LIMIT', `the tunnel outlived ${run.limits.tunnelMs} ms`),
      run.limits.tunnelMs,
    );
    up.write(first);
    count(first.length, 'bytesOut');
    app.on('data', (c: Buffer) => count(c.length, 'bytesOut'));
    up.on('data', (c: Buffer) => count(c.length, 'bytesIn'));
    app.pipe(up);
    up.pipe(app);
    app.on('error', () => stop());
    up.on('error', () => stop());
    // Half-closes pass through the pipes; a side closed for good takes the other with it (nothing
    // it sends could be delivered any more).
    let closed = 0;
    const onClose = (other: Socket) => () => {
      other.destroy();
      if (++closed < 2) return;
      clearTimeout(timer);
      res();
    };
    app.on('close', onClose(up));
    up.on('close', onClose(app));
    app.resume();
  });
}

/** One tunnel, from the CONNECT to the end; always leaves a record. */
async function tunnel(run: Run, app: Socket): Promise<void> {
  const t0 = Date.now();
  const rec: EgressRecord = { destination: '?', verdict: 'refused', bytesOut: 0, bytesIn: 0, ms: 0 };
  let up: Socket | undefined;
  let answered = false;
  try {
    if (run.open.size > run.limits.concurrent)
      throw new Refusal('EGRESS_LIMIT', `more than ${run.limits.concurrent} tunnels at once`, 429);
    if (run.records.length >= run.limits.tunnels)
      throw new Refusal('EGRESS_LIMIT', `more than ${run.limits.tunnels} tunnels in one run`, 429);
    const head = await readUntil(
      app,
      run.limits.handshakeMs,
      (b) => b.includes('\r\n\r\n') || b.length > MAX_REQUEST,
      'CONNECT request',
    );
    const dest = parseConnect(head);
    rec.destination = dest.text;
    if (!run.policy.destinations.includes(dest.text))
      throw new Refusal(
        'EGRESS_DESTINATION_REFUSED',
        `${dest.text} is not in the app's measured egress list`,
        403,
      );
    up = await dialPinned(run.policy, dest.host, dest.port);
    rec.address = up.remoteAddress;
    app.write('HTTP/1.1 200 Connection established\r\n\r\n');
    answered = true;
    const hello = await checkClientHello(app, dest.rest, dest.host, run.limits.handshakeMs);
    rec.verdict = 'allowed';
    await relay(run, app, up, rec, hello);
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    Object.assign(rec, { verdict: 'refused', code: e.code, reason: e.reason });
    if (!answered) answer(app, e);
    else app.destroy();
    up?.destroy();
  } finally {
    rec.ms = Date.now() - t0;
    run.records.push(rec);
  }
}

/** Start the run's proxy on `socketPath` (created 0600). */
export async function startEgressProxy(p: {
  socketPath: string;
  policy: EgressPolicy;
  limits?: Partial<EgressLimits>;
}): Promise<EgressProxy> {
  const run: Run = {
    policy: p.policy,
    limits: { ...DEFAULT_EGRESS_LIMITS, ...p.limits },
    records: [],
    open: new Set(),
    bytes: 0,
  };
  const server: Server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (app) => {
    run.open.add(app);
    app.on('error', () => app.destroy());
    tunnel(run, app)
      .catch(() => app.destroy())
      .finally(() => run.open.delete(app));
  });
  await fs.rm(p.socketPath, { force: true });
  await new Promise<void>((res, rej) => {
    server.once('error', (e) =>
      rej(
        new SealworkError(
          'NETWORK_SHIELD_UNAVAILABLE',
          `Cannot start the network shield's proxy: ${e.message}.`,
          {
            details: { socket: p.socketPath },
            cause: e,
          },
        ),
      ),
    );
    server.listen(p.socketPath, () => res());
  });
  await fs.chmod(p.socketPath, 0o600);
  return {
    socketPath: p.socketPath,
    records: run.records,
    async close() {
      for (const s of run.open) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
