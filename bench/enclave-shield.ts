/**
 * What the network shield costs, on loopback: a client in a shielded network namespace (its only
 * way out: the relay and the egress proxy, exactly as an app's) against the same client run
 * directly on the host, to the same local TLS server, in turn, round by round, so the ratios hold
 * on a noisy machine. Prints figures only. Goals (issue 15): ≥ 0.8× direct throughput, < 5 ms
 * added tunnel setup.
 *
 * Run (as root): node --import tsx bench/enclave-shield.ts [rounds] [MiB]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { startEgressProxy } from '../src/enclave/index.js';
import { startShieldNamespace, PROXY_URL } from '../src/enclave/network/netns.js';
import { generateSelfSignedCert } from '../src/util/tls.js';
import { fetchGuard, shieldAddressRule } from '../src/worker/egress.js';
import { yardstick } from './yardstick.js';

const run = promisify(execFile);
const rounds = Number(process.argv[2] ?? 5);
const mib = Number(process.argv[3] ?? 128);
const SETUPS = 40;

/**
 * The client: SETUPS tunnels (CONNECT through the proxy when `proxy` is set) each with a TLS
 * handshake and one byte echoed, then one connection sending `mib` MiB; prints JSON figures.
 */
const CLIENT = `
const http = require('node:http'), net = require('node:net'), tls = require('node:tls');
const [port, proxy, ca, setups, mib] = process.argv.slice(2);
const open = () => new Promise((res, rej) => {
  const secure = (socket) => {
    const t = tls.connect({ socket, host: 'localhost', servername: 'localhost', ca, port: Number(port) }, () => res(t));
    t.on('error', rej);
  };
  if (proxy === '-') return secure(undefined);
  const u = new URL(proxy);
  const req = http.request({ host: u.hostname, port: u.port, method: 'CONNECT', path: 'localhost:' + port });
  req.on('connect', (r, s) => (r.statusCode === 200 ? secure(s) : rej(new Error('CONNECT ' + r.statusCode))));
  req.on('error', rej);
  req.end();
});
(async () => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Number(setups); i++) {
    const t = await open();
    await new Promise((r) => { t.once('data', r); t.write('x'); });
    t.destroy();
  }
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6 / Number(setups);
  const t = await open();
  const chunk = Buffer.alloc(1 << 20, 1);
  const total = Number(mib) << 20;
  const t1 = process.hrtime.bigint();
  await new Promise((res) => {
    t.once('data', res);
    let sent = 0;
    const pump = () => { while (sent < total) { sent += chunk.length; if (!t.write(chunk)) return t.once('drain', pump); } t.end(); };
    pump();
  });
  const s = Number(process.hrtime.bigint() - t1) / 1e9;
  process.stdout.write(JSON.stringify({ setupMs, mibPerS: Number(mib) / s }) + '\\n', () => process.exit(0));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const dir = mkdtempSync('/var/tmp/sealwork-bench-shield-');
try {
  const { cert, key } = await generateSelfSignedCert(['localhost'], 'bench server');
  // The server: echoes the first byte of a setup probe; for the bulk run, counts bytes and acks at the end.
  const server = createServer({ cert, key }, (s) => {
    let n = 0;
    s.on('data', (c: Buffer) => {
      if (n === 0 && c.length === 1) s.write('y');
      n += c.length;
    });
    s.on('end', () => s.end('done'));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sock = join(dir, 'egress.sock');
  const proxy = await startEgressProxy({
    socketPath: sock,
    policy: {
      destinations: [`localhost:${port}`],
      allowAddress: shieldAddressRule(fetchGuard([`localhost:${port}`])),
      resolve: async () => ['127.0.0.1'],
    },
    limits: { bytes: Number.MAX_SAFE_INTEGER, tunnels: Number.MAX_SAFE_INTEGER },
  });
  const ns = await startShieldNamespace(sock);
  const clientFile = join(dir, 'client.cjs');
  writeFileSync(clientFile, CLIENT);
  const client = async (shielded: boolean) => {
    const args = [clientFile, String(port), shielded ? PROXY_URL : '-', cert, String(SETUPS), String(mib)];
    const r = shielded
      ? await run('nsenter', [`--net=${ns.netns}`, '--', process.execPath, ...args])
      : await run(process.execPath, args);
    if (!r.stdout) console.error('client printed nothing', r.stderr, args.slice(0, 3));
    return JSON.parse(r.stdout) as { setupMs: number; mibPerS: number };
  };
  const rows: {
    direct: { setupMs: number; mibPerS: number };
    shield: { setupMs: number; mibPerS: number };
  }[] = [];
  for (let i = 0; i < rounds; i++) rows.push({ direct: await client(false), shield: await client(true) });
  await ns.close();
  await proxy.close();
  server.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const dSetup = med(rows.map((r) => r.direct.setupMs));
  const sSetup = med(rows.map((r) => r.shield.setupMs));
  const dTput = med(rows.map((r) => r.direct.mibPerS));
  const sTput = med(rows.map((r) => r.shield.mibPerS));
  const ratios = rows.map((r) => r.shield.mibPerS / r.direct.mibPerS);
  console.log(
    `network shield on loopback (${rounds} rounds; ${SETUPS} tunnels and ${mib} MiB per client run)`,
  );
  console.log(`machine yardstick: ${yardstick()}`);
  console.log(`tunnel setup (CONNECT + checks + TLS handshake + 1 byte echoed), median per tunnel:`);
  console.log(
    `  direct ${dSetup.toFixed(2)} ms   shielded ${sSetup.toFixed(2)} ms   added ${(sSetup - dSetup).toFixed(2)} ms (goal < 5 ms)`,
  );
  console.log(`throughput (TLS, app → server), median:`);
  console.log(
    `  direct ${dTput.toFixed(0)} MiB/s   shielded ${sTput.toFixed(0)} MiB/s   ratio ${med(ratios).toFixed(2)} (per-round ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}; goal ≥ 0.80)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
