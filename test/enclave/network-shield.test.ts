/**
 * The network shield (docs/enclave.md): an app built with --egress reaches its measured
 * destinations over TLS through the egress proxy, and nothing else. A local HTTPS server on
 * 127.0.0.1 (allowlisted by the operator's rule for `localhost:<port>`) stands in for an API; a
 * local DNS server on 127.0.0.1 answers for a name that is not allowlisted (DNS rebinding).
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildApp,
  runEnclave,
  type BuildAppReturnType,
  type RunEnclaveParameters,
} from '../../src/enclave/index.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { fetchGuard, shieldAddressRule } from '../../src/worker/egress.js';
import { tempDir } from '../helpers/cli.js';
import { startDnsServer, type DnsServer } from '../helpers/dns.js';
import { nodeImage } from '../helpers/images.js';
import { NEEDS_BWRAP, NEEDS_ROOT, requires } from '../helpers/prereq.js';

/** The app: one request through HTTPS_PROXY, as the test's arguments ask; what happened goes to result.json. */
const APP = `
const fs = require('node:fs'), http = require('node:http'), net = require('node:net'), tls = require('node:tls');
const [mode, host, port, sni] = process.argv.slice(2);
const done = (o) => {
  fs.writeFileSync('/iexec_out/result.json', JSON.stringify(o));
  fs.writeFileSync('/iexec_out/computed.json', JSON.stringify({ 'deterministic-output-path': '/iexec_out/result.json' }));
  process.exit(0);
};
const proxy = new URL(process.env.HTTPS_PROXY || 'http://127.0.0.1:1');
if (mode === 'direct') {
  const s = net.connect({ host, port: Number(port) });
  s.on('connect', () => done({ connected: true }));
  s.on('error', (e) => done({ error: e.code }));
} else if (mode === 'forward') {
  http.get({ host: proxy.hostname, port: proxy.port, path: 'http://' + host + ':' + port + '/data' }, (res) =>
    done({ status: res.statusCode, code: res.headers['x-sealwork-code'] })).on('error', (e) => done({ error: e.code }));
} else {
  const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':' + port });
  req.on('error', (e) => done({ error: e.code }));
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) return done({ status: res.statusCode, code: res.headers['x-sealwork-code'] });
    socket.on('error', (e) => done({ tunnel: 'error', error: e.code }));
    socket.on('close', () => done({ tunnel: 'closed' }));
    if (mode === 'plain') return socket.write('GET /data HTTP/1.1\\r\\nHost: ' + host + '\\r\\n\\r\\n');
    const t = tls.connect({ socket, servername: sni || host, ca: fs.readFileSync('/etc/test-ca.pem') });
    t.on('error', (e) => done({ tls: 'error', error: e.code || e.message }));
    t.on('secureConnect', () => {
      t.write('GET /data HTTP/1.1\\r\\nHost: ' + host + '\\r\\nAuthorization: Bearer ' + process.env.IEXEC_REQUESTER_SECRET_1 + '\\r\\nConnection: close\\r\\n\\r\\n');
      let body = '';
      t.on('data', (c) => (body += c));
      t.on('end', () => done({ response: body.split('\\r\\n\\r\\n')[1], statusLine: body.split('\\r\\n')[0] }));
    });
  });
  req.end();
}
`;

describe('network shield', { skip: requires('the network shield', [NEEDS_BWRAP, NEEDS_ROOT]) }, () => {
  let t: ReturnType<typeof tempDir>;
  let api: Server;
  let port: number;
  let dns: DnsServer;
  let shielded: BuildAppReturnType;
  let without: BuildAppReturnType;
  const TOKEN = 'requester-token-7f3a';

  before(async () => {
    t = tempDir('sealwork-shield-');
    const { cert, key } = await generateSelfSignedCert(['localhost'], 'test API');
    api = createServer({ cert, key }, (req, res) => {
      const ok = req.headers.authorization === `Bearer ${TOKEN}`;
      const body = JSON.stringify(ok ? { price: 4242, path: req.url } : { error: 'unauthorized' });
      res.writeHead(ok ? 200 : 401, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    port = (api.address() as AddressInfo).port;
    dns = await startDnsServer({ 'rebind.test': '127.0.0.1' });
    const src = await nodeImage(join(t.dir, 'src'), [
      { name: 'app/', type: 'directory' },
      { name: 'app/index.js', data: APP },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/test-ca.pem', data: cert },
    ]);
    const build = (name: string, egress: string[]) =>
      buildApp({
        image: src,
        out: join(t.dir, name),
        entrypoint: 'node /app/index.js',
        egress,
        home: t.dir,
        workDir: t.dir,
      });
    shielded = await build('shielded', [`localhost:${port}`, `rebind.test:${port}`]);
    without = await build('without', [`rebind.test:${port}`]);
  });
  after(async () => {
    await new Promise((r) => api.close(r));
    await dns?.close();
    t.cleanup();
  });

  /** The operator's rules: the worker's download rules, with `localhost:<port>` allowlisted. */
  const network = (): NonNullable<RunEnclaveParameters['network']> => {
    const guard = fetchGuard([`localhost:${port}`]);
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    return {
      allowAddress: shieldAddressRule(guard),
      resolve: async (host) => (host === 'localhost' ? ['127.0.0.1'] : resolver.resolve4(host)),
    };
  };

  const run = async (app: BuildAppReturnType, args: string[]) => {
    const outDir = join(t.dir, `out-${Math.random().toString(36).slice(2)}`);
    const r = await runEnclave({
      image: app.out,
      fspfKey: app.fspfKey,
      fspfTag: app.fspfTag,
      outDir,
      args,
      env: { IEXEC_REQUESTER_SECRET_1: TOKEN },
      network: network(),
      workDir: t.dir,
      timeoutMs: 30_000,
    });
    assert.equal(r.exitCode, 0, r.stderr);
    return { r, result: JSON.parse(await fs.readFile(join(outDir, 'result.json'), 'utf8')) };
  };

  it('an allowed destination: the app fetches JSON over TLS with the requester secret as its token', async () => {
    const { r, result } = await run(shielded, ['https', 'localhost', String(port)]);
    assert.equal(result.statusLine, 'HTTP/1.1 200 OK');
    assert.deepEqual(JSON.parse(result.response), { price: 4242, path: '/data' });
    assert.deepEqual(r.network?.destinations, [`localhost:${port}`, `rebind.test:${port}`].sort());
    const [rec] = r.network!.tunnels;
    assert.equal(rec?.verdict, 'allowed');
    assert.equal(rec?.destination, `localhost:${port}`);
    assert.equal(rec?.address, '127.0.0.1');
    assert.ok(rec!.bytesIn > 0 && rec!.bytesOut > 0);
    // The log names the destination, never the payload: the token does not appear in it.
    assert.ok(!JSON.stringify(r.network).includes(TOKEN));
  });

  it('the same app without the destination has another MrEnclave and FSPF tag, and its tunnel is refused', async () => {
    assert.notEqual(without.mrenclave, shielded.mrenclave);
    assert.notEqual(without.fspfTag, shielded.fspfTag);
    const { r, result } = await run(without, ['https', 'localhost', String(port)]);
    assert.deepEqual(result, { status: 403, code: 'EGRESS_DESTINATION_REFUSED' });
    assert.equal(r.network?.tunnels[0]?.code, 'EGRESS_DESTINATION_REFUSED');
  });

  it('plain HTTP is refused: inside a tunnel (not TLS) and as a proxy request (not CONNECT)', async () => {
    const inTunnel = await run(shielded, ['plain', 'localhost', String(port)]);
    assert.equal(inTunnel.result.tunnel, 'closed');
    assert.equal(inTunnel.r.network?.tunnels[0]?.code, 'EGRESS_NOT_TLS');
    const forward = await run(shielded, ['forward', 'localhost', String(port)]);
    assert.deepEqual(forward.result, { status: 405, code: 'EGRESS_NOT_CONNECT' });
  });

  it('TLS that names another server (SNI) through an allowed destination is refused', async () => {
    const { r, result } = await run(shielded, ['https', 'localhost', String(port), 'api.other.example']);
    assert.notEqual(result.statusLine, 'HTTP/1.1 200 OK');
    assert.equal(r.network?.tunnels[0]?.code, 'EGRESS_SNI_MISMATCH');
  });

  it('direct connections bypassing the proxy fail: the host loopback is not there, and there is no route', async () => {
    const loopback = await run(shielded, ['direct', '127.0.0.1', String(port)]);
    assert.deepEqual(loopback.result, { error: 'ECONNREFUSED' });
    const away = await run(shielded, ['direct', '192.0.2.1', '443']);
    assert.deepEqual(away.result, { error: 'ENETUNREACH' });
    assert.deepEqual(loopback.r.network?.tunnels, []);
  });

  it('DNS rebinding: a measured name that resolves to 127.0.0.1 and is not allowlisted is refused', async () => {
    const { r, result } = await run(shielded, ['https', 'rebind.test', String(port)]);
    assert.deepEqual(result, { status: 403, code: 'EGRESS_ADDRESS_REFUSED' });
    assert.equal(dns.queries.filter((q) => q === 'rebind.test').length > 0, true);
    assert.equal(r.network?.tunnels[0]?.address, undefined);
  });

  it('an app with egress refuses to run without the operator rules', async () => {
    await assert.rejects(
      runEnclave({
        image: shielded.out,
        fspfKey: shielded.fspfKey,
        fspfTag: shielded.fspfTag,
        outDir: join(t.dir, 'o'),
        workDir: t.dir,
      }),
      (e: Error & { code?: string }) => e.code === 'NETWORK_SHIELD_POLICY_REQUIRED',
    );
  });
});
