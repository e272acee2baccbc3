/**
 * A DNS server on 127.0.0.1 for tests (RFC 1035 §4: one question, A records only, TTL 0): it lets a
 * test give a name the address it wants — e.g. a public-looking name that resolves to 127.0.0.1,
 * as a DNS-rebinding attacker's would — through the real resolver path.
 */
import { createSocket } from 'node:dgram';

export interface DnsServer {
  port: number;
  /** Names asked, in order. */
  queries: string[];
  close(): Promise<void>;
}

function questionName(msg: Buffer): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length && msg[at] !== 0) {
    const n = msg[at]!;
    if (n > 63 || at + 1 + n > msg.length) return undefined;
    labels.push(msg.subarray(at + 1, at + 1 + n).toString('latin1'));
    at += 1 + n;
  }
  return at + 5 <= msg.length ? { name: labels.join('.').toLowerCase(), end: at + 5 } : undefined;
}

export async function startDnsServer(records: Record<string, string>): Promise<DnsServer> {
  const sock = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, from) => {
    const q = msg.length >= 12 ? questionName(msg) : undefined;
    if (!q) return;
    queries.push(q.name);
    const qtype = msg.readUInt16BE(q.end - 4);
    const ip = qtype === 1 ? records[q.name] : undefined;
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2);
    head.writeUInt16BE(0x8180 | (ip || records[q.name] ? 0 : 3), 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(ip ? 1 : 0, 6);
    const answer = ip
      ? Buffer.concat([
          Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]),
          Buffer.from(ip.split('.').map(Number)),
        ])
      : Buffer.alloc(0);
    sock.send(Buffer.concat([head, msg.subarray(12, q.end), answer]), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    port: sock.address().port,
    queries,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
