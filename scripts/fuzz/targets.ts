/**
 * The fuzz targets of `npm run fuzz`: every parser that takes outside input, fed mutated real seeds.
 * A target's `run` must return or throw a SealworkError; anything else it throws is a crash (and
 * for the SMS, an HTTP 500). Seeds are built in the worker from the repository's vectors and a
 * simulated platform kept under the findings folder, so a saved input replays the same way.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zeroAddress, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { isSealworkError } from '../../src/errors.js';
import {
  collateralToJson,
  openSimPlatform,
  parseCollateral,
  parseQuote,
  quoteBytesFrom,
  verifyQuoteSync,
  type Collateral,
  type TrustedRoot,
} from '../../src/attestation/index.js';
import { findExtension, parseCert, parseCrl, parsePckExtension } from '../../src/attestation/certs.js';
import { children, readTlv } from '../../src/attestation/der.js';
import {
  createAppOrder,
  createDatasetOrder,
  createRequestOrder,
  createWorkerpoolOrder,
  hashOrder,
  orderToJson,
  typedData,
  type AnyOrder,
  type OrderKind,
} from '../../src/chain/orders.js';
import { parseOrderFile } from '../../src/sdk/chain/orders.js';
import { openImage, unpackImage } from '../../src/enclave/oci.js';
import { web2SecretChallenge, web3SecretChallenge } from '../../src/protocol/index.js';
import { int, mutateBytes, mutateJson, mutateJsonText, pick, type Rng } from './mutate.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const VECTORS = join(ROOT, 'test', 'fixtures', 'dcap');
const vec = (f: string) => readFileSync(join(VECTORS, f));
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One target, set up in its worker. */
export interface Harness {
  /** The next input: a seed, mutated. */
  next(r: Rng): Uint8Array;
  /** Feed one input: returns, or throws what the code under test throws. */
  run(input: Uint8Array): void | Promise<void>;
  close?(): Promise<void>;
}

export interface TargetContext {
  /** Scratch folder of this worker (removed afterwards). */
  tmp: string;
  /** Where the simulated platform of the fuzz runs lives (kept, so findings replay). */
  simHome: string;
  /** Child processes started (killed by the driver if the worker hangs). */
  onChild(pid: number): void;
}

export interface Target {
  name: string;
  /** Share of the inputs of a run (the driver splits --count by these). */
  weight: number;
  what: string;
  /** File extension of saved inputs. */
  ext: string;
  setup(ctx: TargetContext): Promise<Harness>;
}

/** Call `f`; a SealworkError is an accepted refusal, anything else propagates (a crash). */
function typed(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isSealworkError(e)) throw e;
  }
}
async function typedAsync(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!isSealworkError(e)) throw e;
  }
}

interface QuoteSeed {
  bytes: Uint8Array;
  collateral: Collateral;
  roots: TrustedRoot[];
  at?: Date;
}

const PINNED = new Date('2025-06-20T00:00:00Z');

async function quoteSeeds(simHome: string): Promise<QuoteSeed[]> {
  const sim = await openSimPlatform(simHome);
  const q = await sim.quote({ mrenclave: '01'.repeat(32), reportData: '02'.repeat(64) });
  const phala = (f: string) => parseCollateral(vec(`phala-dcap-qvl/${f}_collateral.json`).toString('utf8'));
  return [
    { bytes: q.quote, collateral: q.collateral, roots: [sim.trustedRoot] },
    { bytes: vec('phala-dcap-qvl/sgx_quote'), collateral: phala('sgx_quote'), roots: [], at: PINNED },
    { bytes: vec('phala-dcap-qvl/tdx_quote'), collateral: phala('tdx_quote'), roots: [], at: PINNED },
    {
      bytes: vec('phala-dcap-qvl/tdx_quote_outdated'),
      collateral: phala('tdx_quote_outdated'),
      roots: [],
      at: new Date('2026-02-20T00:00:00Z'),
    },
  ];
}

/** Verify with each seed's collateral of the same TEE (most mutants end at the parser). */
function verifyAgainst(seeds: QuoteSeed[], quote: Uint8Array): void {
  const parsed = parseQuote(quote);
  for (const s of seeds) {
    if (parseQuote(s.bytes).tee !== parsed.tee) continue;
    typed(() =>
      verifyQuoteSync({
        quote: parsed,
        collateral: s.collateral,
        trustedRoots: s.roots,
        ...(s.at ? { at: s.at } : {}),
      }),
    );
  }
}

const quote: Target = {
  name: 'quote',
  ext: 'bin',
  weight: 3,
  what: 'DCAP quote bytes or hex text → parseQuote → verifyQuoteSync (simulated and real seeds)',
  async setup({ simHome }) {
    const seeds = await quoteSeeds(simHome);
    const raw = seeds.map((s) => s.bytes);
    const hexSeed = enc.encode(Buffer.from(raw[0]!).toString('hex'));
    return {
      next: (r) => (r() < 0.1 ? mutateBytes(r, hexSeed) : mutateBytes(r, pick(r, raw), raw)),
      run: (input) => typed(() => verifyAgainst(seeds, quoteBytesFrom(input))),
    };
  },
};

const collateral: Target = {
  name: 'collateral',
  ext: 'json',
  weight: 1.5,
  what: 'collateral JSON (PCS and dcap-qvl shapes) → parseCollateral → TCB info / QE identity parsing and verification',
  async setup({ simHome }) {
    const seeds = await quoteSeeds(simHome);
    const docs = [
      collateralToJson(seeds[0]!.collateral),
      JSON.parse(vec('phala-dcap-qvl/sgx_quote_collateral.json').toString('utf8')) as unknown,
      JSON.parse(vec('phala-dcap-qvl/tdx_quote_collateral.json').toString('utf8')) as unknown,
    ];
    // The signed JSON texts themselves, mutated as structures (deeper into parseTcbInfo).
    const inner = (d: unknown) => {
      const o = structuredClone(d) as Record<string, unknown>;
      for (const k of ['tcb_info', 'tcbInfo', 'qe_identity', 'qeIdentity'])
        if (typeof o[k] === 'string') {
          try {
            o[k] = JSON.stringify(mutateJson(rInner, JSON.parse(o[k])));
          } catch {
            // not JSON: left as it is
          }
        }
      return o;
    };
    let rInner: Rng = Math.random;
    return {
      next(r) {
        rInner = r;
        return r() < 0.3
          ? enc.encode(JSON.stringify(inner(pick(r, docs))))
          : mutateJsonText(r, pick(r, docs));
      },
      run(input) {
        typed(() => {
          const c = parseCollateral(dec.decode(input));
          for (const s of seeds)
            typed(() =>
              verifyQuoteSync({
                quote: s.bytes,
                collateral: c,
                trustedRoots: s.roots,
                ...(s.at ? { at: s.at } : {}),
              }),
            );
        });
      },
    };
  },
};

const SGX_OID = '1.2.840.113741.1.13.1';

/** Every TLV inside, recursively (the DER reader under the certificate and CRL parsers). */
function walkDer(b: Uint8Array, depth = 0): void {
  if (depth > 16) return;
  let p = 0;
  while (p < b.length) {
    const t = readTlv(b, p);
    if (t.tag & 0x20) walkDer(t.content, depth + 1);
    else if (t.tag === 0x04 && t.content[0] === 0x30) typed(() => walkDer(t.content, depth + 1));
    p = t.end;
  }
  typed(() => children(b));
}

const der: Target = {
  name: 'der',
  ext: 'der',
  weight: 2,
  what: 'certificate and CRL DER → X.509 parse (PEM), PCK SGX extension, CRL parser, DER reader',
  async setup({ simHome }) {
    const seeds = await quoteSeeds(simHome);
    const derOf = (pem: string) =>
      Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const certs = seeds.flatMap((s) => (parseQuote(s.bytes).certification.pemChain ?? []).map(derOf));
    const crls = seeds.flatMap((s) =>
      [s.collateral.rootCaCrl, s.collateral.pckCrl].filter((x) => x !== undefined),
    );
    const all: Uint8Array[] = [...certs, ...crls];
    return {
      next: (r) => mutateBytes(r, pick(r, all), all),
      run(input) {
        typed(() => walkDer(input));
        typed(() => parsePckExtension(input));
        typed(() => findExtension(input, SGX_OID));
        typed(() => parseCrl(input));
        const b64 = Buffer.from(input)
          .toString('base64')
          .replace(/(.{64})/g, '$1\n');
        typed(() => parseCert(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`));
      },
    };
  },
};

/** Recompute the checksum of every 512-byte block that looks like a ustar header. */
function fixTarChecksums(b: Uint8Array): Uint8Array {
  for (let o = 0; o + 512 <= b.length; o += 512) {
    if (dec.decode(b.subarray(o + 257, o + 262)) !== 'ustar') continue;
    b.fill(0x20, o + 148, o + 156);
    let sum = 0;
    for (let i = o; i < o + 512; i++) sum += b[i]!;
    const s = `${sum.toString(8).padStart(6, '0')}\0 `;
    for (let i = 0; i < 8; i++) b[o + 148 + i] = s.charCodeAt(i);
  }
  return b;
}

const oci: Target = {
  name: 'oci',
  ext: 'tar',
  weight: 0.4,
  what: 'image archive (OCI layout tar, docker save tar; index/manifest/config JSON; tar and gzip layers) → openImage → unpackImage',
  async setup({ tmp }) {
    const { layerTar, writeImage } = await import('../../test/helpers/images.js');
    const layer = await layerTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
      { name: 'bin/sh', type: 'symlink', linkname: 'run.sh' },
      { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
    ]);
    const seeds: Uint8Array[] = [];
    for (const [format, gzip] of [
      ['oci-tar', false],
      ['docker-tar', false],
      ['oci-tar', true],
    ] as const) {
      const out = join(tmp, `seed-${format}-${gzip}.tar`);
      await writeImage(out, [layer], { format, gzip, config: { Entrypoint: ['/bin/run.sh'] } });
      seeds.push(new Uint8Array(await fs.readFile(out)));
    }
    const limits = { maxBytes: 8 * 1024 ** 2, maxEntries: 500, maxRatio: 100, ratioGraceBytes: 1024 ** 2 };
    let n = 0;
    return {
      next(r) {
        const b = mutateBytes(r, pick(r, seeds), seeds);
        return r() < 0.6 ? fixTarChecksums(b) : b;
      },
      async run(input) {
        const dir = join(tmp, `in-${n++}`);
        await fs.mkdir(dir);
        try {
          const file = join(dir, 'image.tar');
          await fs.writeFile(file, input);
          const root = join(dir, 'root');
          await fs.mkdir(root);
          await typedAsync(async () => {
            const img = await openImage(file, { workDir: dir, limits });
            try {
              await unpackImage(img, root);
            } finally {
              await img.cleanup();
            }
          });
        } finally {
          await fs.rm(dir, { recursive: true, force: true });
        }
      },
    };
  },
};

const order: Target = {
  name: 'order',
  ext: 'json',
  weight: 2,
  what: 'order files (sealwork `order sign` files and bare iExec order JSON) → parseOrderFile → EIP-712 hash',
  async setup() {
    const account = privateKeyToAccount(generatePrivateKey());
    const hub = privateKeyToAccount(generatePrivateKey()).address;
    const a = (): Address => privateKeyToAccount(generatePrivateKey()).address;
    const domain = { chainId: 65535, hub };
    const orders: [OrderKind, AnyOrder][] = [
      ['app', createAppOrder({ app: a(), appprice: 5n, volume: 10n })],
      ['dataset', createDatasetOrder({ dataset: a(), datasetprice: 1n })],
      ['workerpool', createWorkerpoolOrder({ workerpool: a(), category: 0n, trust: 1n })],
      [
        'request',
        createRequestOrder({
          app: a(),
          dataset: zeroAddress,
          workerpool: a(),
          requester: account.address,
          params: JSON.stringify({ iexec_args: 'x', iexec_secrets: { '1': 's' } }),
        }),
      ],
    ];
    const docs: unknown[] = [];
    for (const [kind, o] of orders) {
      const sign = await account.signTypedData(typedData(kind, o, domain) as never);
      const json = orderToJson({ ...o, sign } as AnyOrder);
      docs.push({ kind, chainId: domain.chainId, hub, order: json }, json);
    }
    return {
      next: (r) => mutateJsonText(r, pick(r, docs)),
      run(input) {
        typed(() => {
          const s = parseOrderFile(dec.decode(input), 'fuzz-input.json');
          orderToJson(s.order);
          hashOrder(s.kind, s.order, { chainId: s.chainId || 1, hub: s.hub });
        });
      },
    };
  },
};

interface HttpInput {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The SMS world of the sms target: a real anvil, an SMS on it, a task, a valid session request. */
async function smsWorld(onChild: (pid: number) => void) {
  const { startTestChain } = await import('../../test/helpers/chain.js');
  const { startTestSms } = await import('../../test/helpers/sms.js');
  const { setupWorld, sessionRequest } = await import('../../test/sms/fixtures.js');
  const chain = await startTestChain();
  if (chain.pid !== undefined) onChild(chain.pid);
  const world = await setupWorld(chain);
  const s = await startTestSms({ chain });
  const platform = await openSimPlatform(s.home);
  const dealId = await world.deal({ withDataset: true, params: { iexec_args: 'a' } });
  const taskId = await world.initialize(dealId, 0);
  const challenge = await s.client.getEnclaveChallenge(world.roles.scheduler.account, taskId);
  const { req } = await sessionRequest({
    client: s.client,
    platform,
    world,
    taskId,
    dealId,
    taskIndex: 0,
    challenge,
  });
  return { chain, world, s, taskId, req };
}

/** One valid request of every route (signed where the route needs it): the seeds. */
async function smsSeeds(w: Awaited<ReturnType<typeof smsWorld>>): Promise<HttpInput[]> {
  const { workerpoolAuthorizationHash } = await import('../../src/protocol/index.js');
  const { world, req, taskId } = w;
  const workerSig = await world.roles.worker.account.signMessage({
    message: { raw: workerpoolAuthorizationHash(req.authorization) },
  });
  const owner = world.roles.datasetOwner.account;
  const ds = world.dataset;
  const sign = (h: Hex) => owner.signMessage({ message: { raw: h } });
  return [
    {
      method: 'POST',
      path: '/tee/sessions',
      headers: { 'content-type': 'application/json', authorization: workerSig },
      body: JSON.stringify(req),
    },
    {
      method: 'POST',
      path: `/secrets/web3?secretAddress=${ds}`,
      headers: { authorization: await sign(web3SecretChallenge(ds, 'k3y')) },
      body: 'k3y',
    },
    {
      method: 'POST',
      path: `/secrets/web2?ownerAddress=${owner.address}&secretName=n`,
      headers: { authorization: await sign(web2SecretChallenge(owner.address, 'n', 'v')) },
      body: 'v',
    },
    { method: 'GET', path: `/secrets/web3?secretAddress=${ds}`, headers: {} },
    { method: 'GET', path: `/secrets/web2?ownerAddress=${owner.address}&secretName=n`, headers: {} },
    { method: 'GET', path: `/apps/${world.app}/secrets`, headers: {} },
    { method: 'GET', path: `/requesters/${owner.address}/secrets/n`, headers: {} },
    {
      method: 'POST',
      path: `/tee/challenges/${taskId}`,
      headers: {
        authorization: await world.roles.scheduler.account.signMessage({ message: { raw: taskId } }),
      },
    },
    { method: 'GET', path: '/tee/nonce', headers: {} },
  ];
}

/** A seed request with one part mutated: the body (as JSON or bytes), the path and query, or a header. */
function mutateRequest(r: Rng, seeds: HttpInput[], session: unknown, nonce: string): HttpInput {
  const seed = pick(r, seeds);
  const x = structuredClone(seed);
  const what = int(r, 10);
  if (seed.path === '/tee/sessions' && what < 4) {
    // A well-formed session with a fresh nonce and one part mutated: past the nonce check, into
    // the quote, collateral, key and binding checks.
    x.body = JSON.stringify(mutateJson(r, { ...(session as object), nonce }, ['authorization', 'nonce']));
  } else if (what < 6 && x.body !== undefined) {
    x.body = dec.decode(
      x.body.startsWith('{') ? mutateJsonText(r, JSON.parse(x.body)) : mutateBytes(r, enc.encode(x.body)),
    );
  } else if (what < 8) {
    x.path = dec.decode(mutateBytes(r, enc.encode(x.path)));
  } else {
    const k = pick(r, ['authorization', 'content-type', 'content-length', 'transfer-encoding']);
    x.headers[k] = dec.decode(mutateBytes(r, enc.encode(x.headers[k] ?? 'x')));
  }
  if (r() < 0.05) x.method = pick(r, ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS']);
  return x;
}

/** The error code of an SMS error response, if it is one. */
function errorCode(text: string): unknown {
  try {
    return (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return undefined;
  }
}

const sms: Target = {
  name: 'sms',
  ext: 'json',
  weight: 1,
  what: 'SMS HTTP requests (paths, queries, headers, bodies of every route) → the hono app in-process (zod validators, routes, release checks) with a real SQLite store and a real anvil',
  async setup({ onChild }) {
    const w = await smsWorld(onChild);
    const seeds = await smsSeeds(w);
    const app = w.s.sms.app;
    const freshNonce = async () =>
      ((await (await app.request('/tee/nonce')).json()) as { nonce: string }).nonce;
    let nonce = await freshNonce();
    return {
      next: (r) => enc.encode(JSON.stringify(mutateRequest(r, seeds, w.req, nonce))),
      async run(input) {
        const x = JSON.parse(dec.decode(input)) as HttpInput;
        if (x.path === '/tee/sessions' && x.body?.includes(nonce)) nonce = await freshNonce();
        const path = x.path.startsWith('/') ? x.path : `/${x.path}`;
        let request: Request;
        try {
          request = new Request(`http://127.0.0.1${path}`, {
            method: x.method,
            headers: x.headers,
            ...(x.body !== undefined && x.method !== 'GET' && x.method !== 'HEAD' ? { body: x.body } : {}),
          });
        } catch {
          return; // not an HTTP request any server would receive (a bad URL, method or header)
        }
        const res = await app.request(request);
        const text = await res.text();
        if (res.status >= 500 && !(res.status === 503 && errorCode(text) === 'CHAIN_UNAVAILABLE'))
          throw new Error(`HTTP ${res.status} for ${x.method} ${x.path}: ${text.slice(0, 300)}`);
      },
      async close() {
        await w.s.stop();
        await w.chain.stop();
      },
    };
  },
};

export const TARGETS: Target[] = [quote, collateral, der, oci, order, sms];
