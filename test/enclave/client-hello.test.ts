/**
 * The shield's ClientHello reader, on real ClientHellos (captured from node:tls on loopback) and on
 * what an app might send instead: table-driven, each row a verdict that could be otherwise.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { before, describe, it } from 'node:test';
import { readClientHello } from '../../src/enclave/index.js';

/** The first flight a TLS client sends for `servername` (undefined: no SNI), as received by a TCP server. */
async function captureHello(
  servername: string | undefined,
  opts: { maxVersion?: 'TLSv1.2' } = {},
): Promise<Buffer> {
  let got: Buffer = Buffer.alloc(0);
  const server = createServer((s) => {
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (readClientHello(got).kind !== 'incomplete') s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => {
    const c = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(servername ? { servername } : { servername: '' }),
      ...opts,
    });
    c.on('error', () => r());
    c.on('close', () => r());
  });
  await new Promise((r) => server.close(r));
  return got;
}

/** Re-frame a single-record ClientHello into records of at most `size` bytes of handshake each. */
function split(hello: Buffer, size: number): Buffer {
  const hs = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let at = 0; at < hs.length; at += size) {
    const part = hs.subarray(at, at + size);
    const head = Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

describe('ClientHello reader (network shield)', () => {
  let tls13: Buffer;
  let tls12: Buffer;
  let noSni: Buffer;
  before(async () => {
    tls13 = await captureHello('api.example.com');
    tls12 = await captureHello('API.Example.com', { maxVersion: 'TLSv1.2' });
    noSni = await captureHello(undefined);
  });

  it('names the server of real ClientHellos (TLS 1.3 and 1.2)', () => {
    assert.deepEqual(readClientHello(tls13), {
      kind: 'client-hello',
      serverName: 'api.example.com',
      bytes: tls13.readUInt16BE(3),
    });
    const v12 = readClientHello(tls12);
    assert.equal(v12.kind, 'client-hello');
    assert.equal(v12.kind === 'client-hello' && v12.serverName, 'API.Example.com');
  });

  it('a ClientHello without SNI has no server name', () => {
    const v = readClientHello(noSni);
    assert.equal(v.kind, 'client-hello');
    assert.equal(v.kind === 'client-hello' && v.serverName, undefined);
  });

  it('reads a ClientHello split over several records, and waits for the rest when it is cut', () => {
    const framed = split(tls13, 100);
    assert.equal(readClientHello(framed).kind, 'client-hello');
    assert.equal((readClientHello(framed) as { serverName?: string }).serverName, 'api.example.com');
    for (const cut of [1, 5, 50, 105, framed.length - 1])
      assert.equal(readClientHello(framed.subarray(0, cut)).kind, 'incomplete', `cut at ${cut}`);
  });

  const refused: [string, () => Buffer][] = [
    ['plain HTTP', () => Buffer.from('GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n')],
    ['a TLS alert record', () => Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])],
    [
      'a handshake that is not a ClientHello',
      () => Buffer.concat([tls13.subarray(0, 5), Buffer.from([0x02]), tls13.subarray(6)]),
    ],
    [
      'an SSL 2 / bad version record',
      () => Buffer.concat([Buffer.from([0x16, 0x02, 0x00]), tls13.subarray(3)]),
    ],
    ['a zero-length record', () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])],
    [
      'extensions longer than the message',
      () => {
        const b = Buffer.from(tls13);
        // The extensions length sits after version, random, session id, ciphers, compression.
        let at = 9 + 2 + 32;
        at += 1 + b[at]!;
        at += 2 + b.readUInt16BE(at);
        at += 1 + b[at]!;
        b.writeUInt16BE(0xffff, at);
        return b;
      },
    ],
  ];
  for (const [name, bytes] of refused)
    it(`refuses ${name}`, () => assert.equal(readClientHello(bytes()).kind, 'not-tls'));
});
