/**
 * Optional collateral fetching from a PCCS (API v4), against a real HTTP server on 127.0.0.1
 * that serves PCS-format responses (body + URL-encoded issuer-chain headers).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import {
  fetchPccsCollateral,
  openSimPlatform,
  verifyQuoteSync,
  type Collateral,
} from '../../src/attestation/index.js';
import { tempDir } from '../helpers/cli.js';
import { SKIP, quoteVec, textVec } from './vectors.js';
import { parseCollateral } from '../../src/attestation/collateral.js';

interface Pccs {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** A PCCS that answers with the given collateral, the way Intel PCS/PCCS do. */
async function startPccs(c: Collateral, tee: 'sgx' | 'tdx'): Promise<Pccs> {
  const hits: string[] = [];
  const app = new Hono();
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  app.use('*', async (ctx, next) => {
    hits.push(new URL(ctx.req.url).pathname);
    await next();
  });
  app.get(`/${tee}/certification/v4/tcb`, (ctx) => {
    ctx.header('TCB-Info-Issuer-Chain', encodeURIComponent(c.tcbInfoIssuerChain));
    return ctx.body(`{"tcbInfo":${c.tcbInfo},"signature":"${hex(c.tcbInfoSignature)}"}`, 200, {
      'content-type': 'application/json',
    });
  });
  app.get(`/${tee}/certification/v4/qe/identity`, (ctx) => {
    ctx.header('SGX-Enclave-Identity-Issuer-Chain', encodeURIComponent(c.qeIdentityIssuerChain));
    return ctx.body(`{"enclaveIdentity":${c.qeIdentity},"signature":"${hex(c.qeIdentitySignature)}"}`);
  });
  app.get('/sgx/certification/v4/pckcrl', (ctx) => {
    ctx.header('SGX-PCK-CRL-Issuer-Chain', encodeURIComponent(c.pckCrlIssuerChain ?? c.tcbInfoIssuerChain));
    return ctx.body(Buffer.from(c.pckCrl!));
  });
  app.get('/sgx/certification/v4/rootcacrl', (ctx) => ctx.body(hex(c.rootCaCrl!)));
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('PCCS collateral fetch', () => {
  let home: { dir: string; cleanup: () => void };
  before(() => {
    home = tempDir();
  });
  after(() => home.cleanup());

  it('fetches, verifies and caches (simulated platform collateral)', async () => {
    const sim = await openSimPlatform(join(home.dir, 'h'));
    const { quote, collateral } = await sim.quote({
      mrenclave: '55'.repeat(32),
      reportData: '66'.repeat(64),
    });
    const pccs = await startPccs(collateral, 'sgx');
    try {
      const cacheDir = join(home.dir, 'cache');
      const fetched = await fetchPccsCollateral({ quote, pccsUrl: pccs.url, cacheDir });
      assert.equal(fetched.tcbInfo, collateral.tcbInfo);
      assert.ok(pccs.hits.some((h) => h.endsWith('/sgx/certification/v4/tcb')));
      const r = verifyQuoteSync({ quote, collateral: fetched, trustedRoots: [sim.trustedRoot] });
      assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)));
      const before = pccs.hits.length;
      const again = await fetchPccsCollateral({ quote, pccsUrl: pccs.url, cacheDir });
      assert.equal(pccs.hits.length, before, 'served from the cache');
      assert.equal(again.tcbInfo, collateral.tcbInfo);
    } finally {
      await pccs.close();
    }
  });

  it('real SGX quote: PCS-format answers give the exact signed bytes', { skip: SKIP }, async () => {
    const c = parseCollateral(textVec('phala-dcap-qvl/sgx_quote_collateral.json'));
    const pccs = await startPccs(c, 'sgx');
    try {
      const quote = quoteVec('phala-dcap-qvl/sgx_quote');
      const fetched = await fetchPccsCollateral({ quote, pccsUrl: `${pccs.url}/sgx/certification/v4/` });
      assert.ok(pccs.hits.includes('/sgx/certification/v4/pckcrl'));
      const r = verifyQuoteSync({ quote, collateral: fetched, at: new Date('2025-06-20T00:00:00Z') });
      assert.equal(r.ok, true, JSON.stringify(r.checks.filter((x) => !x.ok)));
      assert.equal(r.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
    } finally {
      await pccs.close();
    }
  });

  it('an unreachable PCCS is a typed error', async () => {
    const sim = await openSimPlatform(join(home.dir, 'h'));
    const { quote } = await sim.quote({ mrenclave: '55'.repeat(32), reportData: '66'.repeat(64) });
    await assert.rejects(fetchPccsCollateral({ quote, pccsUrl: 'http://127.0.0.1:9' }), {
      code: 'PCCS_ERROR',
    });
  });
});
