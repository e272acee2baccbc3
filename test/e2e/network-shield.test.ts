/**
 * The network shield end to end: an app built with --egress is deployed with that fingerprint,
 * the requester pushes an API token to the SMS, the worker (its operator allowlisting the local
 * API as `localhost:<port>`) runs the task, and the app fetches JSON over TLS through the shield
 * with the token, into its result. The task log names the tunnel, never the token.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { devAccountByName } from '../../src/chain/index.js';
import { createSmsClient } from '../../src/sms-client/index.js';
import { deploySampleApp } from '../../src/sdk/stack/demo.js';
import { downloadResult, runApp, watchTask } from '../../src/sdk/worker/requester.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { nodeImage } from '../helpers/images.js';
import { NEEDS_BWRAP, NEEDS_ROOT, requires } from '../helpers/prereq.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

/** Reads its token from the requester secret, calls the API through HTTPS_PROXY, writes the answer. */
const APP = `
const fs = require('node:fs'), http = require('node:http'), tls = require('node:tls');
const [host, port] = process.argv.slice(2);
const proxy = new URL(process.env.HTTPS_PROXY);
const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':' + port });
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.error('proxy refused', res.statusCode); process.exit(2); }
  const t = tls.connect({ socket, servername: host, ca: fs.readFileSync('/etc/test-ca.pem') }, () =>
    t.end('GET /price HTTP/1.1\\r\\nHost: ' + host + '\\r\\nAuthorization: Bearer ' + process.env.IEXEC_REQUESTER_SECRET_1 + '\\r\\nConnection: close\\r\\n\\r\\n'));
  let body = '';
  t.on('data', (c) => (body += c));
  t.on('end', () => {
    fs.writeFileSync('/iexec_out/price.json', body.split('\\r\\n\\r\\n')[1]);
    fs.writeFileSync('/iexec_out/computed.json', JSON.stringify({ 'deterministic-output-path': '/iexec_out/price.json' }));
  });
});
req.end();
`;

describe(
  'network shield, end to end',
  { skip: requires('network shield end to end', [NEEDS_BWRAP, NEEDS_ROOT]) },
  () => {
    let s: TestStack;
    let api: Server;
    let port: number;
    let ca: string;
    const steps: string[] = [];
    const TOKEN = 'tok-shield-5c1e';
    const seen: string[] = [];

    before(async () => {
      const { cert, key } = await generateSelfSignedCert(['localhost'], 'test API');
      ca = cert;
      api = createServer({ cert, key }, (req, res) => {
        seen.push(req.headers.authorization ?? '');
        const ok = req.headers.authorization === `Bearer ${TOKEN}`;
        const body = JSON.stringify(ok ? { pair: 'RLC/USD', price: 1.23 } : { error: 'unauthorized' });
        res.writeHead(ok ? 200 : 401, { 'content-length': Buffer.byteLength(body) }).end(body);
      });
      await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
      port = (api.address() as AddressInfo).port;
      s = await startTestStack({
        allowFetchHosts: [`localhost:${port}`],
        onStep: (_task, step) => steps.push(step),
      });
    });
    after(async () => {
      await s?.stop();
      api?.close();
    });

    it('the app calls the allowlisted API over TLS with the requester secret; the task log shows the tunnel', async () => {
      const src = await nodeImage(join(s.home, 'shield-src'), [
        { name: 'app/', type: 'directory' },
        { name: 'app/index.js', data: APP },
        { name: 'etc/', type: 'directory' },
        { name: 'etc/test-ca.pem', data: ca },
      ]);
      const app = await deploySampleApp(s.stack, {
        dir: join(s.home, 'apps'),
        name: 'shielded-app',
        source: { image: src, entrypoint: 'node /app/index.js' },
        egress: [`localhost:${port}`],
      });
      await createSmsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).pushRequesterSecret(
        devAccountByName('requester'),
        'price-api',
        TOKEN,
      );
      const access = { home: s.home, chainUrl: s.stack.chain.url };
      const r = await runApp({
        ...access,
        as: 'requester',
        workerpool: s.stack.workerpool,
        app: app.app,
        args: `localhost ${port}`,
        secrets: { '1': 'price-api' },
      });
      const t = await watchTask({ ...access, taskId: r.taskIds[0]!, timeoutMs: 60_000, pollMs: 100 });
      assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
      const out = join(s.home, 'dl-shield');
      await downloadResult({ ...access, taskId: t.taskId, out });
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'price.json'), 'utf8')), {
        pair: 'RLC/USD',
        price: 1.23,
      });
      assert.deepEqual(seen, [`Bearer ${TOKEN}`]);
      const tunnel = steps.find((l) => l.startsWith('network shield:'));
      assert.match(
        tunnel ?? '',
        new RegExp(`^network shield: localhost:${port} \\(127\\.0\\.0\\.1\\) allowed; \\d+ B out, \\d+ B in`),
      );
      assert.ok(!steps.some((l) => l.includes(TOKEN)), 'the token is never logged');
    });
  },
);
