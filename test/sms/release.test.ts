/**
 * Attested, chain-authorized release against a real anvil, a real SMS over HTTPS (SQLite, or
 * PostgreSQL in its twin test/sms/postgres/release.test.ts) and quotes of the simulated platform: every refusal (stable code, nothing released, audited) and a
 * release that decrypts only with the enclave's private key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { collateralToJson, openSimPlatform, type SimPlatform } from '../../src/attestation/index.js';
import { SealworkError, isSealworkError, type ErrorCode } from '../../src/errors.js';
import {
  decryptSessionJwe,
  generateSessionKeyPair,
  sessionReportData,
  workerpoolAuthorizationHash,
  type SessionRequest,
  type SessionSecrets,
} from '../../src/protocol/index.js';
import { challengeAad } from '../../src/sms/challenge.js';
import { createSealer, loadMasterKey } from '../../src/sms/index.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { tempDir } from '../helpers/cli.js';
import { startTestSms, type TestSms } from '../helpers/sms.js';
import { storeUnderTest } from '../helpers/stores.js';
import { highSTwin, sessionRequest, setupWorld, withV, type World } from './fixtures.js';

let chain: TestChain;
let sms: TestSms;
let world: World;
let platform: SimPlatform;
const logLines: string[] = [];
const DATASET_KEY = randomBytes(32).toString('base64');
const REQUESTER_SECRET = `requester-secret-${randomBytes(8).toString('hex')}`;
const DEV_SECRET = `dev-secret-${randomBytes(8).toString('hex')}`;
const FS_KEY = `fs-key-${randomBytes(16).toString('hex')}`;
let dealWithDataset: Hex;
let task0: Hex;
let challenge0: Address;
const store = storeUnderTest();

before(async () => {
  chain = await startTestChain();
  world = await setupWorld(chain);
  sms = await startTestSms({
    chain,
    db: await store.db(),
    logger: {
      debug: () => {},
      info: (m, f) => logLines.push(JSON.stringify({ m, ...f })),
      warn: (m, f) => logLines.push(JSON.stringify({ m, ...f })),
      error: (m, f) => logLines.push(JSON.stringify({ m, ...f })),
    },
  });
  platform = await openSimPlatform(sms.home);
  dealWithDataset = await world.deal({
    withDataset: true,
    volume: 3,
    params: {
      iexec_args: 'a b c',
      iexec_input_files: ['https://example.org/in.txt'],
      iexec_secrets: { '1': 'token' },
    },
  });
  task0 = await world.initialize(dealWithDataset, 0);
  await world.initialize(dealWithDataset, 2);
  challenge0 = await sms.client.getEnclaveChallenge(world.roles.scheduler.account, task0);
});
after(async () => {
  await sms?.stop();
  await chain?.stop();
});

interface Build {
  taskId?: Hex;
  dealId?: Hex;
  taskIndex?: number;
  challenge?: Address;
  signer?: 'scheduler' | 'other';
  mrenclave?: string;
  attributes?: string;
  platform?: SimPlatform;
  bindOtherKey?: boolean;
  tamper?: boolean;
  nonce?: Hex;
  /** Change the scheduler's authorization signature (malleated twins). */
  authSignature?: (sig: Hex) => Hex;
  /** Another SMS to ask for the nonce. */
  via?: TestSms;
}

async function build(o: Build = {}) {
  const key = generateSessionKeyPair();
  const nonce = o.nonce ?? (await (o.via ?? sms).client.getNonce()).nonce;
  const taskId = o.taskId ?? task0;
  const enclaveChallenge = o.challenge ?? challenge0;
  const worker = world.roles.worker.account.address;
  const signer = o.signer === 'other' ? world.roles.other.account : world.roles.scheduler.account;
  const { signAuthorization } = await import('../../src/chain/index.js');
  const signed = await signAuthorization(signer, { worker, taskid: taskId, enclaveChallenge });
  const signature = o.authSignature ? o.authSignature(signed) : signed;
  const bound = o.bindOtherKey ? generateSessionKeyPair().publicJwk : key.publicJwk;
  const q = await (o.platform ?? platform).quote({
    mrenclave: o.mrenclave ?? world.fingerprint.mrenclave,
    ...(o.attributes ? { attributes: o.attributes } : {}),
    reportData: sessionReportData(bound, nonce),
  });
  const quote = Buffer.from(q.quote);
  if (o.tamper) quote[148] = quote[148]! ^ 0x01; // inside the signed ISV report body
  const req: SessionRequest = {
    authorization: {
      chainTaskId: taskId,
      dealId: o.dealId ?? dealWithDataset,
      taskIndex: o.taskIndex ?? 0,
      workerWallet: worker,
      enclaveChallenge,
      signature,
    },
    quote: `0x${quote.toString('hex')}`,
    collateral: collateralToJson(q.collateral),
    publicKey: key.publicJwk,
    nonce,
  };
  return { req, key };
}

/** `POST /tee/sessions` with these headers (no worker signature unless given): the refusal thrown. */
async function postSession(req: SessionRequest, headers: Record<string, string> = {}): Promise<never> {
  const r = await sms.client.request('POST', '/tee/sessions', JSON.stringify(req), {
    'content-type': 'application/json',
    ...headers,
  });
  assert.equal(r.status, 403, r.text);
  throw new SealworkError(r.json?.error?.code as ErrorCode, String(r.json?.error?.message));
}

async function refused(
  req: SessionRequest,
  code: string,
  send: () => Promise<unknown> = () => sms.client.openSession(world.roles.worker.account, req),
): Promise<void> {
  const before = (await sms.store.listAudit({ limit: 1000 })).length;
  await assert.rejects(send(), (e: unknown) => {
    assert.ok(isSealworkError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal('jwe' in (e.details ?? {}), false);
    return true;
  });
  const audit = await sms.store.listAudit({ limit: 1 });
  assert.equal((await sms.store.listAudit({ limit: 1000 })).length, before + 1, 'every refusal is audited');
  assert.equal(audit[0]!.verdict, 'refused');
  assert.equal(audit[0]!.code, code);
  assert.deepEqual(audit[0]!.secrets, []);
}

describe('enclave challenge', () => {
  it('is given to the workerpool owner only, once per task (same address again)', async () => {
    assert.match(challenge0, /^0x[0-9a-fA-F]{40}$/);
    assert.equal(await sms.client.getEnclaveChallenge(world.roles.scheduler.account, task0), challenge0);
    await assert.rejects(sms.client.getEnclaveChallenge(world.roles.other.account, task0), (e: unknown) => {
      assert.ok(isSealworkError(e));
      assert.equal(e.code, 'SMS_UNAUTHORIZED');
      assert.equal(
        String(e.details?.expectedSigner).toLowerCase(),
        world.roles.scheduler.account.address.toLowerCase(),
      );
      return true;
    });
  });
  it('is refused for a task that is not ACTIVE', async () => {
    const { computeTaskId } = await import('../../src/chain/index.js');
    const task1 = computeTaskId(dealWithDataset, 1);
    const r = await sms.client.request('POST', `/tee/challenges/${task1}`, '', {
      Authorization: '0x' + '11'.repeat(65),
    });
    assert.equal(r.status, 401);
    assert.equal(r.json?.error?.code, 'TASK_NOT_ACTIVE');
  });
  it('is refused DEAL_NOT_TEE for a task of a deal without the TEE tag (iexec-sms NO_MATCH_ONCHAIN_TYPE)', async () => {
    const deal = await world.deal({ tee: false });
    const task = await world.initialize(deal, 0);
    await assert.rejects(
      sms.client.getEnclaveChallenge(world.roles.scheduler.account, task),
      (e: unknown) => {
        assert.ok(isSealworkError(e, 'DEAL_NOT_TEE'), String(e));
        assert.equal(e.details?.status, 403);
        return true;
      },
    );
    assert.equal(await sms.store.getChallenge(task), undefined, 'no challenge key made');
  });
  it('stores the challenge key sealed, never in clear', async () => {
    const row = await sms.store.getChallenge(task0);
    assert.ok(row);
    assert.equal(row.address, challenge0);
    // Open it as the SMS does (its master key, the task-bound AAD): the key of that address…
    const sealer = createSealer((await loadMasterKey(join(sms.home, 'sms'))).key);
    const key = sealer.open(row.sealedKey, challengeAad(task0)).toString() as Hex;
    assert.equal(privateKeyToAddress(key), challenge0);
    // …and the stored bytes hold it in no readable form.
    for (const needle of [Buffer.from(key), Buffer.from(key.slice(2)), Buffer.from(key.slice(2), 'hex')])
      assert.equal(row.sealedKey.indexOf(needle), -1, 'the challenge key is in clear');
    assert.throws(
      () => sealer.open(row.sealedKey, challengeAad(`0x${'00'.repeat(32)}`)),
      'bound to its task',
    );
  });
});

describe('session refusals (in check order)', () => {
  it('DATASET_KEY_MISSING before the dataset key is pushed', async () => {
    const { req } = await build();
    await refused(req, 'DATASET_KEY_MISSING');
  });
  it('pushes the secrets the deal needs (set-up for the next cases; each push is then present)', async () => {
    assert.equal(await sms.client.hasDatasetSecret(world.dataset), false);
    await sms.client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, DATASET_KEY);
    await sms.client.pushAppSecret(world.roles.appDev.account, world.app, DEV_SECRET);
    await sms.client.pushAppFsKey(world.roles.appDev.account, world.app, FS_KEY);
    assert.equal(await sms.client.hasDatasetSecret(world.dataset), true);
    assert.equal(await sms.client.hasAppSecret(world.app), true);
    assert.equal(await sms.client.hasAppFsKey(world.app), true);
  });
  it('REQUESTER_SECRET_MISSING when a secret named in iexec_secrets is absent', async () => {
    const { req } = await build();
    await refused(req, 'REQUESTER_SECRET_MISSING');
    await sms.client.pushRequesterSecret(world.roles.requester.account, 'token', REQUESTER_SECRET);
  });
  it('TASK_NOT_ACTIVE for a task not initialized', async () => {
    const { computeTaskId } = await import('../../src/chain/index.js');
    const { req } = await build({ taskId: computeTaskId(dealWithDataset, 1), taskIndex: 1 });
    await refused(req, 'TASK_NOT_ACTIVE');
  });
  it('TASK_MISMATCH when the task id is not the deal id + index given', async () => {
    const { req } = await build({ taskIndex: 1 });
    await refused(req, 'TASK_MISMATCH');
  });
  it('DEAL_NOT_TEE for a deal without the TEE tag', async () => {
    const deal = await world.deal({ tee: false });
    const task = await world.initialize(deal, 0);
    const { req } = await build({ taskId: task, dealId: deal });
    await refused(req, 'DEAL_NOT_TEE');
  });
  it('AUTHORIZATION_INVALID when the authorization is not signed by the workerpool owner', async () => {
    const { req } = await build({ signer: 'other' });
    await refused(req, 'AUTHORIZATION_INVALID');
  });
  it('AUTHORIZATION_INVALID for the high-S twin or another v of the scheduler signature (the hub refuses both)', async () => {
    await refused((await build({ authSignature: highSTwin })).req, 'AUTHORIZATION_INVALID');
    for (const v of [0, 1])
      await refused(
        (await build({ authSignature: (s) => withV(s, Number(`0x${s.slice(130)}`) - 27 + v) })).req,
        'AUTHORIZATION_INVALID',
      );
    // The first check recovered the scheduler's key: a wrong v is still refused afterwards.
    await refused((await build({ authSignature: (s) => withV(s, 29) })).req, 'AUTHORIZATION_INVALID');
  });
  it('WORKER_SIGNATURE_MISSING without the Authorization header (the scheduler signature is no bearer token)', async () => {
    const { req } = await build();
    await refused(req, 'WORKER_SIGNATURE_MISSING', () => postSession(req));
  });
  it('WORKER_SIGNATURE_INVALID when the header is not signed by the worker the authorization names', async () => {
    const { req } = await build();
    await refused(req, 'WORKER_SIGNATURE_INVALID', () =>
      sms.client.openSession(world.roles.other.account, req),
    );
    // The scheduler's own signature replayed as the header.
    const b = await build();
    await refused(b.req, 'WORKER_SIGNATURE_INVALID', () =>
      postSession(b.req, { Authorization: b.req.authorization.signature }),
    );
    // The worker's signature, malleated to its high-S twin.
    const c = await build();
    const good = await world.roles.worker.account.signMessage({
      message: { raw: workerpoolAuthorizationHash(c.req.authorization) },
    });
    await refused(c.req, 'WORKER_SIGNATURE_INVALID', () =>
      postSession(c.req, { Authorization: highSTwin(good) }),
    );
  });
  it('ENCLAVE_CHALLENGE_UNKNOWN for an enclave challenge the SMS did not issue', async () => {
    const { req } = await build({ challenge: world.roles.other.account.address });
    await refused(req, 'ENCLAVE_CHALLENGE_UNKNOWN');
  });
  it('NONCE_INVALID for an unknown nonce', async () => {
    const { req } = await build({ nonce: `0x${randomBytes(32).toString('hex')}` });
    await refused(req, 'NONCE_INVALID');
  });
  it('QUOTE_INVALID for a tampered quote', async () => {
    const { req } = await build({ tamper: true });
    await refused(req, 'QUOTE_INVALID');
  });
  it('QUOTE_ROOT_UNTRUSTED for a quote under an unknown root', async () => {
    const t = tempDir();
    try {
      const stranger = await openSimPlatform(t.dir);
      const { req } = await build({ platform: stranger });
      await refused(req, 'QUOTE_ROOT_UNTRUSTED');
    } finally {
      t.cleanup();
    }
  });
  it('ENCLAVE_DEBUG for a debug enclave', async () => {
    const { req } = await build({ attributes: '0700000000000000e700000000000000' });
    await refused(req, 'ENCLAVE_DEBUG');
  });
  it('REPORTDATA_MISMATCH when REPORTDATA does not bind the session key', async () => {
    const { req } = await build({ bindOtherKey: true });
    await refused(req, 'REPORTDATA_MISMATCH');
  });
  it('QUOTE_ROOT_UNTRUSTED for a simulated quote when the SMS does not allow simulation', async () => {
    const strict = await startTestSms({ chain, db: await store.db(), allowSimulation: false });
    try {
      const c = await strict.client.getEnclaveChallenge(world.roles.scheduler.account, task0);
      const { req } = await build({ via: strict, challenge: c });
      await assert.rejects(strict.client.openSession(world.roles.worker.account, req), (e: unknown) => {
        assert.ok(isSealworkError(e, 'QUOTE_ROOT_UNTRUSTED'), String(e));
        return true;
      });
      assert.equal((await strict.client.health()).simulation, false);
    } finally {
      await strict.stop();
    }
  });
  it('NONCE_INVALID for an expired nonce (short lifetime)', async () => {
    const quick = await startTestSms({ chain, db: await store.db(), nonceTtlMs: 30 });
    try {
      const c = await quick.client.getEnclaveChallenge(world.roles.scheduler.account, task0);
      const { req } = await build({ via: quick, challenge: c });
      await new Promise((r) => setTimeout(r, 60));
      await assert.rejects(quick.client.openSession(world.roles.worker.account, req), (e: unknown) => {
        assert.ok(isSealworkError(e, 'NONCE_INVALID'), String(e));
        assert.match(e.message, /expired/);
        return true;
      });
      const [a] = await quick.store.listAudit({ limit: 1 });
      assert.equal(a?.code, 'NONCE_INVALID');
    } finally {
      await quick.stop();
    }
  });
  it('MRENCLAVE_MISMATCH for another enclave than the app fingerprint', async () => {
    const { req } = await build({ mrenclave: randomBytes(32).toString('hex') });
    await refused(req, 'MRENCLAVE_MISMATCH');
  });
  it('SESSION_REQUEST_INVALID (400) for a malformed body', async () => {
    const r = await sms.client.request('POST', '/tee/sessions', '{"authorization":{}}', {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, 'SESSION_REQUEST_INVALID');
  });
});

describe('session request over the body limit', () => {
  it('is 413 SESSION_REQUEST_TOO_LARGE, and audited as a refusal', async () => {
    const { request } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      // A connection of its own: the SMS closes it after refusing the oversized body.
      const r = request(
        new URL('/tee/sessions', sms.url),
        { method: 'POST', agent: false, ca: sms.cert, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      r.on('error', reject);
      r.end(`{"quote":"${'a'.repeat(2 * 1024 * 1024)}"}`);
    });
    assert.equal(status, 413);
    const [a] = await sms.store.listAudit({ limit: 1 });
    assert.equal(a?.verdict, 'refused');
    assert.equal(a?.code, 'SESSION_REQUEST_TOO_LARGE');
  });
});

describe('release', () => {
  let lastNonce: Hex;
  it('releases a JWE that decrypts with the enclave key only, with every secret the task needs', async () => {
    const { req, key } = await build();
    lastNonce = req.nonce;
    const res = await sms.client.openSession(world.roles.worker.account, req);
    assert.equal(res.taskId, task0);
    assert.equal(res.jwe.split('.').length, 5, 'compact JWE');
    const header = JSON.parse(Buffer.from(res.jwe.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    assert.equal(header.alg, 'ECDH-ES');
    assert.equal(header.enc, 'A256GCM');
    const s = await decryptSessionJwe<SessionSecrets>(res.jwe, key.privateKey);
    assert.equal(s.task.id, task0);
    assert.equal(s.task.args, 'a b c');
    assert.deepEqual(s.task.inputFiles, ['https://example.org/in.txt']);
    assert.equal(s.app.mrenclave, world.fingerprint.mrenclave);
    assert.equal(s.app.fspfKey, world.fingerprint.fspfKey);
    assert.equal(s.app.fspfTag, world.fingerprint.fspfTag);
    assert.equal(s.app.fsKey, FS_KEY);
    assert.equal(s.app.developerSecret, DEV_SECRET);
    assert.equal(s.dataset?.key, DATASET_KEY);
    assert.equal(s.dataset?.url, 'https://storage.local/data.enc');
    assert.equal(s.dataset?.address.toLowerCase(), world.dataset.toLowerCase());
    assert.deepEqual(s.requesterSecrets, { '1': REQUESTER_SECRET });
    assert.equal(s.enclaveChallenge.address, challenge0);
    const { privateKeyToAddress } = await import('viem/accounts');
    assert.equal(privateKeyToAddress(s.enclaveChallenge.privateKey), challenge0);
    // Any other key fails.
    await assert.rejects(decryptSessionJwe(res.jwe, generateSessionKeyPair().privateKey), (e: unknown) => {
      assert.ok(isSealworkError(e, 'SESSION_DECRYPT_FAILED'));
      return true;
    });
    const [a] = await sms.store.listAudit({ taskId: task0, limit: 1 });
    assert.equal(a!.verdict, 'released');
    assert.equal(a!.mrenclave, world.fingerprint.mrenclave);
    assert.ok(a!.secrets.includes('dataset:' + world.dataset.toLowerCase()));
    assert.ok(a!.secrets.includes('requester:token'));
  });
  it('NONCE_INVALID when a nonce is replayed', async () => {
    const { req } = await build({ nonce: lastNonce });
    await refused(req, 'NONCE_INVALID');
  });
  it('never logs a secret value (audit lines carry names only)', () => {
    const all = logLines.join('\n');
    assert.ok(all.includes('"verdict":"released"'));
    for (const s of [DATASET_KEY, REQUESTER_SECRET, DEV_SECRET, FS_KEY])
      assert.ok(!all.includes(s), 'secret value in the logs');
  });
  it('never puts a secret value in the audit table or a refusal message', async () => {
    const audit = JSON.stringify(await sms.store.listAudit({ limit: 10_000 }));
    assert.ok(audit.includes('"verdict":"released"') && audit.includes('"verdict":"refused"'));
    for (const s of [DATASET_KEY, REQUESTER_SECRET, DEV_SECRET, FS_KEY])
      assert.ok(!audit.includes(s), 'secret value in the audit log');
  });
  it('shared nonces (multi-process SMS): a nonce from one process is accepted once by any, forged ones are refused', async () => {
    // Two SMS instances on one home (database, master key), as the processes of `sms start --workers 2`.
    const t = tempDir();
    const db = await store.db();
    const a = await startTestSms({ chain, home: t.dir, db, clusterWorker: true });
    const b = await startTestSms({ chain, home: t.dir, db, clusterWorker: true });
    try {
      const deal = await world.deal({});
      const task = await world.initialize(deal, 0);
      const challenge = await a.client.getEnclaveChallenge(world.roles.scheduler.account, task);
      assert.equal(await b.client.getEnclaveChallenge(world.roles.scheduler.account, task), challenge);
      const simPlatform = await openSimPlatform(t.dir);
      const one = {
        client: a.client,
        platform: simPlatform,
        world,
        taskId: task,
        dealId: deal,
        taskIndex: 0,
        challenge,
      };
      const { req, key } = await sessionRequest(one);
      const res = await b.client.openSession(world.roles.worker.account, req); // nonce issued by a, used at b
      const s = await decryptSessionJwe<SessionSecrets>(res.jwe, key.privateKey);
      assert.equal(s.task.id, task);
      await assert.rejects(a.client.openSession(world.roles.worker.account, req), (e: unknown) =>
        isSealworkError(e, 'NONCE_INVALID'),
      );
      const forged = await sessionRequest(one);
      forged.req.nonce = `0x${randomBytes(32).toString('hex')}`;
      await assert.rejects(b.client.openSession(world.roles.worker.account, forged.req), (e: unknown) =>
        isSealworkError(e, 'NONCE_INVALID'),
      );
    } finally {
      await b.stop();
      await a.stop();
      t.cleanup();
    }
  });
  it('reads task status fresh: a task claimed (FAILED) after a release is refused TASK_NOT_ACTIVE', async () => {
    const deal = await world.deal({ volume: 1 });
    const task = await world.initialize(deal, 0);
    const challenge = await sms.client.getEnclaveChallenge(world.roles.scheduler.account, task);
    const one = { client: sms.client, platform, world, taskId: task, dealId: deal, taskIndex: 0, challenge };
    const first = await sessionRequest(one);
    assert.equal((await sms.client.openSession(world.roles.worker.account, first.req)).taskId, task);
    const { claimTask, readTask } = await import('../../src/chain/index.js');
    const t = await readTask(world.roles.other.publicClient, chain.deployment.hub, task);
    const now = Number((await world.roles.other.publicClient.getBlock()).timestamp);
    await chain.increaseTime(Number(t.finalDeadline) - now + 60);
    await claimTask(world.roles.requester, task);
    const { req } = await sessionRequest(one);
    await refused(req, 'TASK_NOT_ACTIVE');
  });
  it('deletes the challenge key after the final deadline', async () => {
    const task2 = (await import('../../src/chain/index.js')).computeTaskId(dealWithDataset, 2);
    const c2 = await sms.client.getEnclaveChallenge(world.roles.scheduler.account, task2);
    const row = await sms.store.getChallenge(task2);
    assert.ok(row && row.address === c2);
    assert.equal(await sms.sms.release.cleanup(row.finalDeadline - 1), 0);
    assert.ok(await sms.store.getChallenge(task2));
    assert.ok((await sms.sms.release.cleanup(row.finalDeadline + 1)) >= 1);
    assert.equal(await sms.store.getChallenge(task2), undefined);
    const { req } = await build({ taskId: task2, taskIndex: 2, challenge: c2 });
    await refused(req, 'ENCLAVE_CHALLENGE_UNKNOWN');
  });
});

describe('raw task reader (the release hot path)', () => {
  it('decodes viewTask like viem, for ACTIVE and UNSET tasks, with concurrent reads batched', async () => {
    const { rawTaskReader, chainReaderFromClient, batchedClient } = await import('../../src/sms/index.js');
    const { computeTaskId } = await import('../../src/chain/index.js');
    const raw = rawTaskReader(chain.url, chain.deployment.hub);
    const viemReader = chainReaderFromClient(batchedClient(chain.url, chain.chainId), chain.deployment.hub);
    try {
      const unset = computeTaskId(dealWithDataset, 1);
      for (const id of [task0, unset]) assert.deepEqual(await raw.task(id), await viemReader.task(id));
      assert.equal((await raw.task(task0)).status, 'ACTIVE');
      assert.equal((await raw.task(unset)).status, 'UNSET');
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => raw.task(i % 2 ? task0 : unset)));
      assert.deepEqual(
        many.map((t) => t.status),
        many.map((_, i) => (i % 2 ? 'ACTIVE' : 'UNSET')),
      );
    } finally {
      raw.close();
    }
  });
  it('fails with CHAIN_UNAVAILABLE when nothing answers', async () => {
    const { rawTaskReader } = await import('../../src/sms/index.js');
    const { freePort } = await import('../helpers/sms.js');
    const raw = rawTaskReader(`http://127.0.0.1:${await freePort()}`, chain.deployment.hub);
    try {
      await assert.rejects(raw.task(task0), (e: unknown) => isSealworkError(e, 'CHAIN_UNAVAILABLE'));
    } finally {
      raw.close();
    }
  });
});
