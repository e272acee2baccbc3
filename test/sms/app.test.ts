/**
 * The SMS HTTP app in-process (`app.request`), on an in-memory chain and a throw-away SQLite
 * (PostgreSQL in its twin, test/sms/postgres/app.test.ts):
 * how refusals render (one code → status table, the body clients have always had), that every
 * session outcome is audited once, and that failures that are not refusals leak nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { SealworkError, type ErrorCode } from '../../src/errors.js';
import { CHALLENGE_HTTP_STATUS, HTTP_STATUS } from '../../src/sms/http-errors.js';
import {
  SESSION_REFUSALS,
  createSealer,
  createSms,
  silentLogger,
  type ChainReader,
  type Sms,
  type SmsStore,
} from '../../src/sms/index.js';
import { web3SecretChallenge } from '../../src/protocol/index.js';
import { tempDir } from '../helpers/cli.js';
import { storeUnderTest } from '../helpers/stores.js';

const owner = privateKeyToAccount(generatePrivateKey());
const dataset = privateKeyToAccount(generatePrivateKey()).address;
const dealId = `0x${'ab'.repeat(32)}` as Hex;
const unsetTask = `0x${'ef'.repeat(32)}` as Hex;
const down = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8545'), { code: 'CHAIN_UNAVAILABLE' });

/** A chain with one dataset (owned by `owner`) and no initialized task; `mode` breaks it. */
let mode: 'ok' | 'down' | 'broken' = 'ok';
const chain: ChainReader = {
  async owner(a: Address) {
    if (mode === 'down') throw down();
    return a.toLowerCase() === dataset.toLowerCase() ? owner.address : undefined;
  },
  app: async () => undefined,
  dataset: async () => undefined,
  deal: async () => undefined,
  async task(taskId: Hex) {
    if (mode === 'down') throw down();
    if (mode === 'broken') throw new Error('some internal detail that must not reach the client');
    return { taskId, dealId, index: 0n, status: 'UNSET', finalDeadline: 0 };
  },
};

let t: ReturnType<typeof tempDir>;
let store: SmsStore;
let sms: Sms;
before(async () => {
  t = tempDir();
  store = await storeUnderTest().open(t.dir);
  sms = createSms({
    identity: {
      mrEnclave: 'aa'.repeat(32),
      mrSigner: 'bb'.repeat(32),
      isvProdId: 1,
      isvSvn: 1,
      simulated: true,
    },
    store,
    sealer: createSealer(randomBytes(32)),
    chain,
    verifier: { verify: async () => ({ ok: false, code: 'QUOTE_INVALID', reason: 'not reached' }) },
    logger: silentLogger,
    cacheChain: false,
  });
});
after(async () => {
  await store?.close();
  t?.cleanup();
});

const request = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
  const res = await sms.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: text ? (JSON.parse(text) as { error: Record<string, unknown> }) : undefined,
  };
};
const session = (body: unknown) =>
  request('POST', '/tee/sessions', JSON.stringify(body), { 'content-type': 'application/json' });
const lastAudit = async () => (await store.listAudit({ limit: 1 }))[0];
const auditCount = async () => (await store.listAudit({ limit: 10_000 })).length;

/** A well-formed session request (its checks fail on chain: the task is not initialized). */
const wellFormed = () => ({
  authorization: {
    chainTaskId: unsetTask,
    dealId,
    taskIndex: 0,
    workerWallet: owner.address,
    enclaveChallenge: owner.address,
    signature: `0x${'11'.repeat(65)}`,
  },
  quote: '0xabcd',
  publicKey: { kty: 'OKP', crv: 'X25519', x: Buffer.alloc(32, 1).toString('base64url') },
  nonce: `0x${'22'.repeat(32)}`,
});

describe('the code → HTTP status table', () => {
  it('gives every session refusal a status (403, but 400 for a malformed request)', () => {
    for (const code of SESSION_REFUSALS)
      assert.equal(HTTP_STATUS[code], code === 'SESSION_REQUEST_INVALID' ? 400 : 403, code);
  });
  it('the enclave-challenge endpoint answers TASK_NOT_ACTIVE 401, a session 403', async () => {
    assert.equal(CHALLENGE_HTTP_STATUS.TASK_NOT_ACTIVE, 401);
    const c = await request('POST', `/tee/challenges/${unsetTask}`, '', {
      Authorization: '0x' + '11'.repeat(65),
    });
    assert.equal(c.status, 401);
    assert.equal(c.json?.error.code, 'TASK_NOT_ACTIVE');
    const s = await session(wellFormed());
    assert.equal(s.status, 403);
    assert.equal(s.json?.error.code, 'TASK_NOT_ACTIVE');
  });
});

describe('refusals render as { error: { code, message, …details } }', () => {
  it('a bad push signature is 401 naming the expected signer and challenge', async () => {
    const key = randomBytes(32).toString('base64');
    const r = await request('POST', `/secrets/web3?secretAddress=${dataset}`, key, {
      Authorization: '0x1234',
    });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, {
      error: {
        code: 'SIGNATURE_INVALID',
        message: `The Authorization header is not the EIP-191 signature of the challenge by ${owner.address}.`,
        secretAddress: dataset.toLowerCase(),
        expectedSigner: owner.address,
        expectedChallenge: web3SecretChallenge(dataset.toLowerCase(), key),
        recoveredSigner: null,
      },
    });
  });
  it('a malformed address is 400 with the value given', async () => {
    const r = await request('POST', '/secrets/web3?secretAddress=0x12', 'v');
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      error: {
        code: 'ADDRESS_INVALID',
        message: 'secretAddress is not a 20-byte hex address.',
        value: '0x12',
      },
    });
  });
  it('HEAD answers with the status alone', async () => {
    const r = await sms.app.request('/secrets/web3?secretAddress=0x12', { method: 'HEAD' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('content-type'), null);
    assert.equal(await r.text(), '');
  });
});

describe('every session outcome is audited once', () => {
  it('a body that is not JSON: 400 SESSION_REQUEST_INVALID, audited', async () => {
    const n = await auditCount();
    const r = await request('POST', '/tee/sessions', '{not json', { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.equal(r.json?.error.code, 'SESSION_REQUEST_INVALID');
    assert.equal(await auditCount(), n + 1);
    assert.equal((await lastAudit())?.code, 'SESSION_REQUEST_INVALID');
  });
  it('a body over 2 MiB: 413 SESSION_REQUEST_TOO_LARGE, audited', async () => {
    const n = await auditCount();
    const r = await request('POST', '/tee/sessions', 'x'.repeat(2 * 1024 * 1024 + 1), {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 413);
    assert.equal(r.json?.error.code, 'SESSION_REQUEST_TOO_LARGE');
    assert.equal(await auditCount(), n + 1);
    assert.equal((await lastAudit())?.code, 'SESSION_REQUEST_TOO_LARGE');
  });
  it('a refusal by a check: audited with what the checks had learnt (task, worker)', async () => {
    const n = await auditCount();
    await session(wellFormed());
    assert.equal(await auditCount(), n + 1);
    const a = await lastAudit();
    assert.equal(a?.verdict, 'refused');
    assert.equal(a?.code, 'TASK_NOT_ACTIVE');
    assert.equal(a?.taskId, unsetTask);
    assert.equal(a?.worker, owner.address.toLowerCase());
    assert.deepEqual(a?.secrets, []);
  });
});

describe('failures that are not refusals', () => {
  it('chain down: 503 CHAIN_UNAVAILABLE with a fixed message, for pushes and sessions (audited)', async () => {
    mode = 'down';
    try {
      const key = randomBytes(32).toString('base64');
      const push = await request('POST', `/secrets/web3?secretAddress=${dataset}`, key, {
        Authorization: '0x12',
      });
      assert.equal(push.status, 503);
      assert.deepEqual(push.json, {
        error: {
          code: 'CHAIN_UNAVAILABLE',
          message: 'The SMS cannot read the chain right now; retry later.',
        },
      });
      const s = await session(wellFormed());
      assert.equal(s.status, 503);
      assert.equal((await lastAudit())?.code, 'CHAIN_UNAVAILABLE');
      assert.ok(!s.text.includes('ECONNREFUSED'));
    } finally {
      mode = 'ok';
    }
  });
  it('an internal error: 500 INTERNAL, its message neither answered nor audited', async () => {
    mode = 'broken';
    try {
      const s = await session(wellFormed());
      assert.equal(s.status, 500);
      assert.deepEqual(s.json, { error: { code: 'INTERNAL', message: 'Internal SMS error.' } });
      const a = await lastAudit();
      assert.equal(a?.code, 'INTERNAL');
      assert.ok(!JSON.stringify(a).includes('internal detail'));
    } finally {
      mode = 'ok';
    }
  });
  it('a SealworkError whose code is not an SMS refusal is a failure too (500)', async () => {
    // An undeclared code (as a JavaScript caller could give): not an SMS refusal.
    const code = 'SOMETHING_ELSE' as ErrorCode;
    const refuse = sms.release.refuse(new SealworkError(code, 'not for the client'));
    await assert.rejects(refuse, (e: unknown) => e instanceof SealworkError && e.code === 'SOMETHING_ELSE');
    assert.equal((await lastAudit())?.code, 'INTERNAL');
  });
});
