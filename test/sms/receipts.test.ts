/**
 * Release receipts: the signed format (protocol/receipt.ts) on its own, then on real parts — an
 * anvil, an SMS over HTTPS (SQLite) and quotes of the simulated platform: a release returns a
 * receipt signed with the SMS's TLS key, naming the secrets released and never their values; the
 * SMS stores it and serves it to the task's requester and dataset owner only. The PostgreSQL store
 * keeps receipts the same way.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { openSimPlatform, type SimPlatform } from '../../src/attestation/index.js';
import { isSealworkError } from '../../src/errors.js';
import {
  canonicalJson,
  parseReceipt,
  receiptKeyMatchesCertificate,
  receiptReadChallenge,
  signReceipt,
  spkiBase64,
  verifyReceiptSignature,
  type ReleaseReceipt,
  type ReleaseReceiptBody,
} from '../../src/protocol/index.js';
import { openPostgresStore } from '../../src/sms/index.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { requires } from '../helpers/prereq.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { postgresAvailable, startTestPostgres, startTestSms, type TestSms } from '../helpers/sms.js';
import { sessionRequest, setupWorld, type World } from './fixtures.js';

const hex = (n: number) => randomBytes(n).toString('hex');

function body(key: KeyObject, o: Partial<ReleaseReceiptBody> = {}): ReleaseReceiptBody {
  return {
    type: 'sealwork-release-receipt',
    version: 1,
    task: {
      id: `0x${hex(32)}`,
      dealId: `0x${hex(32)}`,
      index: 0,
      app: `0x${hex(20)}`,
      dataset: null,
      requester: `0x${hex(20)}`,
      beneficiary: `0x${hex(20)}`,
      worker: `0x${hex(20)}`,
    },
    enclaveChallenge: `0x${hex(20)}`,
    enclave: {
      mrenclave: hex(32),
      mrsigner: hex(32),
      tcbStatus: 'UpToDate',
      simulated: true,
      quoteHash: `0x${hex(32)}`,
    },
    policy: { hash: `0x${hex(32)}`, summary: { allowSimulation: true } },
    released: ['dataset:0xabc', 'enclave-challenge-key'],
    issuedAt: new Date().toISOString(),
    sms: { publicKey: spkiBase64(key), evidence: null },
    ...o,
  };
}

describe('receipt format', () => {
  const keys = {
    'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    RSA: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    Ed25519: generateKeyPairSync('ed25519').privateKey,
  };
  for (const [name, key] of Object.entries(keys))
    it(`signs and verifies with a ${name} key; any change to the body breaks it`, () => {
      const r = signReceipt(body(key), key);
      assert.equal(verifyReceiptSignature(r).ok, true);
      // Through JSON and back (as published), still valid.
      const back = parseReceipt(JSON.stringify(r));
      assert.ok(back.ok);
      assert.equal(verifyReceiptSignature(back.receipt).ok, true);
      const tampered: ReleaseReceipt = structuredClone(r);
      tampered.body.released.push('extra');
      assert.equal(verifyReceiptSignature(tampered).ok, false);
      const otherTask: ReleaseReceipt = structuredClone(r);
      otherTask.body.task.id = `0x${hex(32)}`;
      assert.equal(verifyReceiptSignature(otherTask).ok, false);
    });

  it('refuses a receipt signed by another key than the one it names (another SMS key)', () => {
    const sms = keys['P-256'];
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = signReceipt(body(sms), other); // names the SMS key, signed by another
    const v = verifyReceiptSignature(forged);
    assert.equal(v.ok, false);
    assert.match(v.reason, /not that of key/);
  });

  it("a receipt naming another SMS's key verifies alone, but not against the SMS certificate", async () => {
    const smsTls = await generateSelfSignedCert();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const r = signReceipt(body(other), other);
    assert.equal(verifyReceiptSignature(r).ok, true);
    assert.equal(receiptKeyMatchesCertificate(r, smsTls.cert), false);
    const { createPrivateKey } = await import('node:crypto');
    const smsKey = createPrivateKey(smsTls.key);
    assert.equal(receiptKeyMatchesCertificate(signReceipt(body(smsKey), smsKey), smsTls.cert), true);
  });

  it('refuses an algorithm that is not the key type’s (no algorithm confusion)', () => {
    const r = signReceipt(body(keys.RSA), keys.RSA);
    const v = verifyReceiptSignature({ ...r, signature: { ...r.signature, alg: 'ES256' } });
    assert.equal(v.ok, false);
    assert.match(v.reason, /says ES256, the key is PS256/);
  });

  it('encodes canonically: key order does not change the bytes, values do', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: '1' }));
  });

  it('parses only the receipt format', () => {
    assert.equal(parseReceipt('{').ok, false);
    const r = signReceipt(body(keys['P-256']), keys['P-256']);
    const bad = structuredClone(r) as unknown as { body: { task: { id: string } } };
    bad.body.task.id = 'not a task';
    const p = parseReceipt(bad);
    assert.equal(p.ok, false);
    assert.match(!p.ok ? p.reason : '', /body\.task\.id/);
  });
});

describe('receipts from the SMS', () => {
  let chain: TestChain;
  let sms: TestSms;
  let world: World;
  let platform: SimPlatform;
  let taskId: Hex;
  let dealId: Hex;
  let challenge: Address;
  let receipt: ReleaseReceipt;
  const DATASET_KEY = randomBytes(32).toString('base64');

  before(async () => {
    chain = await startTestChain();
    world = await setupWorld(chain);
    sms = await startTestSms({ chain });
    platform = await openSimPlatform(sms.home);
    await sms.client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, DATASET_KEY);
    dealId = await world.deal({ withDataset: true, volume: 2 });
    taskId = await world.initialize(dealId, 0);
    challenge = await sms.client.getEnclaveChallenge(world.roles.scheduler.account, taskId);
  });
  after(async () => {
    await sms?.stop();
    await chain?.stop();
  });

  it('a release returns a receipt signed with the SMS TLS key: task, challenge, enclave, quote hash, names only', async () => {
    const { req } = await sessionRequest({
      client: sms.client,
      platform,
      world,
      taskId,
      dealId,
      taskIndex: 0,
      challenge,
    });
    const res = await sms.client.openSession(world.roles.worker.account, req);
    assert.ok(res.receipt, 'the session response carries a receipt');
    receipt = res.receipt;
    assert.equal(verifyReceiptSignature(receipt).ok, true);
    assert.equal(receiptKeyMatchesCertificate(receipt, sms.cert!), true, 'signed with the TLS key');
    const b = receipt.body;
    assert.equal(b.task.id, taskId);
    assert.equal(b.task.dealId, dealId);
    assert.equal(b.task.dataset?.toLowerCase(), world.dataset.toLowerCase());
    assert.equal(b.task.requester.toLowerCase(), world.roles.requester.account.address.toLowerCase());
    assert.equal(b.enclaveChallenge, challenge);
    assert.equal(b.enclave.mrenclave, world.fingerprint.mrenclave);
    assert.equal(b.enclave.simulated, true);
    assert.equal(b.enclave.tcbStatus, 'UpToDate');
    const quote = Buffer.from(req.quote.slice(2), 'hex');
    assert.equal(b.enclave.quoteHash, `0x${createHash('sha256').update(quote).digest('hex')}`);
    assert.deepEqual(b.released, res.released);
    assert.ok(b.released.includes(`dataset:${world.dataset.toLowerCase()}`));
    assert.equal(b.policy.summary.allowSimulation, true);
    assert.equal(b.sms.evidence?.certificate, sms.cert);
    assert.ok(!JSON.stringify(receipt).includes(DATASET_KEY), 'no secret value in the receipt');
    assert.deepEqual(JSON.parse((await sms.store.getReceipt(taskId))!), receipt, 'stored as returned');
  });

  const read = (who: 'requester' | 'datasetOwner' | 'other', o: { task?: Hex; now?: number } = {}) =>
    sms.client.getReceipt(world.roles[who].account, o.task ?? taskId, o.now ? { now: o.now } : {});
  const refusedWith = async (p: Promise<unknown>, code: string) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(isSealworkError(e), String(e));
      assert.equal((e.details as { code?: string }).code ?? e.code, code, e.message);
      return true;
    });

  it('serves it to the requester and to the dataset owner', async () => {
    assert.deepEqual(await read('requester'), receipt);
    assert.deepEqual(await read('datasetOwner'), receipt);
  });

  it('refuses another wallet (403 RECEIPT_FORBIDDEN)', async () => {
    await refusedWith(read('other'), 'RECEIPT_FORBIDDEN');
  });

  it('refuses a read without a signature (401), with a stale timestamp (401), or signed for another task (403)', async () => {
    const r = await sms.client.request('GET', `/receipts/${taskId}`);
    assert.equal(r.status, 401);
    assert.equal(r.json?.error?.code, 'RECEIPT_AUTH_MISSING');
    await refusedWith(
      read('requester', { now: Math.floor(Date.now() / 1000) - 3600 }),
      'RECEIPT_AUTH_EXPIRED',
    );
    // The requester's signature of another task's challenge recovers to another address.
    const ts = Math.floor(Date.now() / 1000);
    const sig = await world.roles.requester.account.signMessage({
      message: { raw: receiptReadChallenge(`0x${hex(32)}`, ts) },
    });
    const r2 = await sms.client.request('GET', `/receipts/${taskId}`, undefined, {
      Authorization: sig,
      'X-Sealwork-Timestamp': String(ts),
    });
    assert.equal(r2.status, 403);
    assert.equal(r2.json?.error?.code, 'RECEIPT_FORBIDDEN');
  });

  it('answers 404 RECEIPT_NOT_FOUND for a task it released nothing for', async () => {
    const other = await world.initialize(dealId, 1);
    await refusedWith(read('requester', { task: other }), 'RECEIPT_NOT_FOUND');
  });
});

describe(
  'PostgreSQL receipts (same behaviour)',
  {
    skip: requires('PostgreSQL receipts', [
      { name: 'PostgreSQL', present: postgresAvailable(), enable: 'apt-get install -y postgresql' },
    ]),
  },
  () => {
    it('stores the latest receipt of a task and reads it back', async () => {
      const pg = await startTestPostgres();
      try {
        const store = await openPostgresStore(pg.url);
        try {
          const task = `0x${hex(32)}`;
          assert.equal(await store.getReceipt(task), undefined);
          await store.putReceipt(task.toUpperCase().replace('0X', '0x'), '{"n":1}');
          assert.equal(await store.getReceipt(task), '{"n":1}');
          await store.putReceipt(task, '{"n":2}');
          assert.equal(await store.getReceipt(task), '{"n":2}', 'a later release replaces it');
        } finally {
          await store.close();
        }
      } finally {
        await pg.stop();
      }
    });
  },
);
