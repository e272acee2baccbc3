/**
 * Finding 5 of the security review (SSRF): the worker's dataset, input-file and app-image
 * downloads reach public addresses only, checked on the address connected to; the operator's
 * allowlist makes exceptions; redirects are few, re-checked, and never https → http.
 *
 * The tests talk only to 127.0.0.1, which is exactly the forbidden class: each local server is
 * shown refused by default (and never reached) and allowed with the allowlist.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type Server,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { isSealworkError } from '../../src/errors.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import {
  checkConnectedSocket,
  fetchGuard,
  isForbiddenAddress,
  originRule,
  parseAllowRule,
  PUBLIC_ONLY,
} from '../../src/worker/egress.js';
import { downloadToFile, fetchBytes } from '../../src/worker/fetch.js';
import { resolveAppImage } from '../../src/worker/image.js';
import { fetchDataset, fetchInputFiles } from '../../src/worker/precompute.js';
import { workerFetchGuard } from '../../src/sdk/worker/worker.js';
import { runCli, tempDir } from '../helpers/cli.js';

const code = (c: string) => (e: unknown) => {
  assert.ok(isSealworkError(e), String(e));
  assert.equal(e.code, c, e.message);
  return true;
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local server that counts its requests. */
async function serve(handler: Handler, tls?: { cert: string; key: string }) {
  const hits: string[] = [];
  const h: Handler = (req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  };
  const server: Server = tls ? createHttpsServer(tls, h) : createHttpServer(h);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    hits,
    port,
    base: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('worker downloads: which addresses they may reach', () => {
  it('classifies loopback, private, CGNAT, link-local, multicast, unspecified and their IPv6 forms as forbidden', () => {
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '100.127.255.255',
      '169.254.169.254',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fe80::1%eth0',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '0:0:0:0:0:ffff:7f00:0001',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '::127.0.0.1',
      'not-an-ip',
    ])
      assert.equal(isForbiddenAddress(a), true, a);
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '192.169.0.1',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ])
      assert.equal(isForbiddenAddress(a), false, a);
  });

  it('parses allowlist entries and refuses malformed ones with FETCH_ALLOWLIST_INVALID', () => {
    assert.deepEqual(parseAllowRule('localhost:8080'), {
      kind: 'host',
      host: 'localhost',
      port: 8080,
      text: 'localhost:8080',
    });
    assert.equal(parseAllowRule('Storage.internal').kind, 'host');
    assert.equal(parseAllowRule('10.0.0.0/8').kind, 'cidr');
    assert.equal(parseAllowRule('fd00::/8').kind, 'cidr');
    assert.equal(parseAllowRule('[::1]:5000').port, 5000);
    assert.equal(parseAllowRule('::1').kind, 'cidr');
    assert.equal(parseAllowRule('127.0.0.1:443').port, 443);
    for (const bad of ['', 'a b', 'host:0', 'host:99999', 'host:x', '10.0.0.0/33', 'x/8', '[zz]:1', 'a:1:2'])
      assert.throws(() => parseAllowRule(bad), code('FETCH_ALLOWLIST_INVALID'), bad);
    assert.equal(originRule('https://127.0.0.1/x'), '127.0.0.1:443');
    assert.equal(originRule('http://[::1]:81/'), '[::1]:81');
    // The worker's guard: its entries, else the environment's, plus the operator's own services.
    const g = workerFetchGuard({}, ['https://127.0.0.1:5000/'], {
      SEALWORK_ALLOW_FETCH_HOSTS: 'a.lan, 10.0.0.0/8',
    });
    assert.deepEqual(
      g.allow.map((r) => r.text),
      ['a.lan', '10.0.0.0/8', '127.0.0.1:5000'],
    );
    assert.deepEqual(
      workerFetchGuard({ allowFetchHosts: ['b.lan'] }, [], { SEALWORK_ALLOW_FETCH_HOSTS: 'a.lan' }).allow.map(
        (r) => r.text,
      ),
      ['b.lan'],
    );
  });

  it('the connected peer is checked again, whatever resolved the name', async () => {
    const srv = createTcpServer((c) => c.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      const check = (allow: string[]) =>
        new Promise<unknown>((resolve) => {
          const sock = connect(port, '127.0.0.1');
          let refusal: unknown;
          checkConnectedSocket(fetchGuard(allow), new URL('http://public.example/'), sock, (e) => {
            refusal = e;
            sock.destroy();
          });
          sock.once('connect', () => setImmediate(() => (sock.destroy(), resolve(refusal))));
          sock.once('error', () => resolve(refusal));
        });
      code('FETCH_ADDRESS_REFUSED')(await check([]));
      assert.equal(await check(['127.0.0.1']), undefined);
    } finally {
      srv.close();
    }
  });

  describe('against local servers', () => {
    let ok: Awaited<ReturnType<typeof serve>>;
    let other: Awaited<ReturnType<typeof serve>>;
    let secure: Awaited<ReturnType<typeof serve>>;
    let ca: string;
    const t = tempDir();
    before(async () => {
      ok = await serve((req, res) => {
        const m = /^\/hop\/(\d+)$/.exec(req.url ?? '');
        if (m) {
          const n = Number(m[1]);
          if (n === 0) return void res.end('arrived');
          return void res.writeHead(302, { location: `/hop/${n - 1}` }).end();
        }
        if (req.url === '/forever') return void res.writeHead(301, { location: '/forever' }).end();
        if (req.url?.startsWith('/to-other'))
          return void res.writeHead(302, { location: `${other.base}/secret` }).end();
        res.end('local secret');
      });
      other = await serve((_req, res) => res.end('other secret'));
      const tls = await generateSelfSignedCert(['127.0.0.1', 'localhost']);
      ca = tls.cert;
      secure = await serve((req, res) => {
        if (req.url === '/down') return void res.writeHead(302, { location: `${ok.base}/plain` }).end();
        if (req.url === '/up') return void res.writeHead(302, { location: `${secure.base}/final` }).end();
        res.end('secure');
      }, tls);
    });
    after(() => {
      ok?.close();
      other?.close();
      secure?.close();
      t.cleanup();
    });

    it('an input-file or dataset URL at 127.0.0.1 is refused by default, and the server is never reached', async () => {
      const url = `${ok.base}/input.txt`;
      await assert.rejects(fetchBytes(url, { guard: PUBLIC_ONLY }), code('FETCH_ADDRESS_REFUSED'));
      // The worker's input files and datasets are guarded even when the caller gives no guard.
      await assert.rejects(fetchInputFiles([url]), code('FETCH_ADDRESS_REFUSED'));
      await assert.rejects(
        fetchDataset({ address: '0x1', url, checksum: `0x${'1'.repeat(64)}`, key: '' }),
        code('FETCH_ADDRESS_REFUSED'),
      );
      // IPv4-mapped IPv6 and the unspecified address are the same loopback.
      await assert.rejects(
        fetchBytes(`http://[::ffff:127.0.0.1]:${ok.port}/x`, { guard: PUBLIC_ONLY }),
        code('FETCH_ADDRESS_REFUSED'),
      );
      await assert.rejects(
        fetchBytes(`http://0.0.0.0:${ok.port}/x`, { guard: PUBLIC_ONLY }),
        code('FETCH_ADDRESS_REFUSED'),
      );
      assert.deepEqual(ok.hits, []);
    });

    it('a name that resolves to 127.0.0.1 (localhost) is refused: the check is on the address connected to', async () => {
      const url = `http://localhost:${ok.port}/input.txt`;
      await assert.rejects(fetchBytes(url, { guard: PUBLIC_ONLY }), (e) => {
        code('FETCH_ADDRESS_REFUSED')(e);
        assert.ok(isSealworkError(e));
        const addrs = (e.details as { addresses: string[] }).addresses;
        assert.ok(addrs.every((a) => isForbiddenAddress(a)) && addrs.length > 0, addrs.join());
        return true;
      });
      assert.deepEqual(ok.hits, []);
      // Allowed by the name, or by the address it resolves to (only 127.0.0.1 is kept: the server
      // listens there, not on ::1).
      assert.equal(
        (await fetchBytes(url, { guard: fetchGuard([`localhost:${ok.port}`]) })).toString(),
        'local secret',
      );
      assert.equal(
        (await fetchBytes(url, { guard: fetchGuard(['127.0.0.0/8']) })).toString(),
        'local secret',
      );
    });

    it('the operator allowlist lets a local server through: by address and port, by CIDR; not another port', async () => {
      const url = `${ok.base}/input.txt`;
      assert.equal(
        (await fetchBytes(url, { guard: fetchGuard([`127.0.0.1:${ok.port}`]) })).toString(),
        'local secret',
      );
      assert.equal(
        (await fetchBytes(url, { guard: fetchGuard(['127.0.0.0/8']) })).toString(),
        'local secret',
      );
      assert.equal(
        (await fetchInputFiles([url], { guard: fetchGuard(['127.0.0.1']) }))[0]!.data.toString(),
        'local secret',
      );
      await assert.rejects(
        fetchBytes(url, { guard: fetchGuard([`127.0.0.1:${other.port}`]) }),
        code('FETCH_ADDRESS_REFUSED'),
      );
      await assert.rejects(
        fetchBytes(url, { guard: fetchGuard(['10.0.0.0/8']) }),
        code('FETCH_ADDRESS_REFUSED'),
      );
    });

    it('every redirect hop is re-checked: an allowed server cannot redirect to a forbidden one', async () => {
      const before = other.hits.length;
      const guard = fetchGuard([`127.0.0.1:${ok.port}`]);
      await assert.rejects(fetchBytes(`${ok.base}/to-other`, { guard }), code('FETCH_ADDRESS_REFUSED'));
      const dest = join(t.dir, 'img.tar');
      await assert.rejects(
        downloadToFile(`${ok.base}/to-other`, dest, { guard }),
        code('FETCH_ADDRESS_REFUSED'),
      );
      assert.equal(existsSync(dest), false);
      assert.equal(other.hits.length, before);
    });

    it('a redirect from https to http is refused (and https to https followed)', async () => {
      const guard = fetchGuard(['127.0.0.0/8']);
      const hitsBefore = ok.hits.length;
      await assert.rejects(
        fetchBytes(`${secure.base}/down`, { guard, ca: [ca] }),
        code('FETCH_REDIRECT_REFUSED'),
      );
      const dest = join(t.dir, 'down.tar');
      await assert.rejects(
        downloadToFile(`${secure.base}/down`, dest, { guard, ca: [ca] }),
        code('FETCH_REDIRECT_REFUSED'),
      );
      assert.equal(existsSync(dest), false);
      // Also without a guard (a user fetching for themselves): https never falls back to http.
      await assert.rejects(fetchBytes(`${secure.base}/down`, { ca: [ca] }), code('FETCH_REDIRECT_REFUSED'));
      assert.equal(ok.hits.length, hitsBefore, 'the http server was never reached');
      assert.equal((await fetchBytes(`${secure.base}/up`, { guard, ca: [ca] })).toString(), 'secure');
    });

    it('at most 3 redirects are followed', async () => {
      const guard = fetchGuard(['127.0.0.0/8']);
      assert.equal((await fetchBytes(`${ok.base}/hop/3`, { guard })).toString(), 'arrived');
      const n = ok.hits.length;
      await assert.rejects(fetchBytes(`${ok.base}/hop/4`, { guard }), code('FETCH_TOO_MANY_REDIRECTS'));
      assert.equal(ok.hits.length - n, 4, 'the first request and 3 redirects, no more');
      await assert.rejects(fetchBytes(`${ok.base}/forever`, { guard }), code('FETCH_TOO_MANY_REDIRECTS'));
      const dest = join(t.dir, 'loop.tar');
      await assert.rejects(
        downloadToFile(`${ok.base}/forever`, dest, { guard }),
        code('FETCH_TOO_MANY_REDIRECTS'),
      );
      assert.equal(existsSync(dest), false);
      assert.equal((await fetchBytes(`${ok.base}/hop/4`, { guard, maxRedirects: 4 })).toString(), 'arrived');
    });

    it('an app image URL at 127.0.0.1 is refused by default (not retried), allowed with the allowlist', async () => {
      const body = Buffer.from('local secret');
      const sum = `0x${createHash('sha256').update(body).digest('hex')}` as Hex;
      const home = join(t.dir, 'home');
      const n = ok.hits.length;
      await assert.rejects(resolveAppImage(home, `${ok.base}/app.tar`, sum), code('FETCH_ADDRESS_REFUSED'));
      await assert.rejects(
        resolveAppImage(home, `http://localhost:${ok.port}/app.tar`, sum),
        code('FETCH_ADDRESS_REFUSED'),
      );
      assert.equal(ok.hits.length, n);
      const p = await resolveAppImage(home, `${ok.base}/app.tar`, sum, {
        fetch: { guard: fetchGuard([`127.0.0.1:${ok.port}`]) },
      });
      assert.ok(p.startsWith(join(home, 'worker', 'images')));
    });
  });

  it('`worker start` refuses a malformed --allow-fetch-host before it connects to anything', async () => {
    const t = tempDir();
    try {
      const r = await runCli(
        [
          '--home',
          t.dir,
          '--json',
          'worker',
          'start',
          '--workerpool',
          `0x${'1'.repeat(40)}`,
          '--allow-fetch-host',
          '127.0.0.1:8080',
          '--allow-fetch-host',
          'not a host',
        ],
        { timeoutMs: 60_000 },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /FETCH_ALLOWLIST_INVALID/);
    } finally {
      t.cleanup();
    }
  });
});
