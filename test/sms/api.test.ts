/**
 * The iExec secret API of the SMS over real HTTPS, against a real anvil and SQLite (PostgreSQL in
 * its twin, test/sms/postgres/api.test.ts): every endpoint's status codes, and interop with the
 * real `iexec` SDK (v9) pushing to us.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  web2SecretChallenge,
  web3SecretChallenge,
  workerpoolAuthorizationHash,
} from '../../src/protocol/index.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { ROOT } from '../helpers/cli.js';
import { startTestSms, type TestSms } from '../helpers/sms.js';
import { storeUnderTest, tableRows } from '../helpers/stores.js';
import { openSimPlatform } from '../../src/attestation/index.js';
import { sessionRequest, setupWorld, type World } from './fixtures.js';

let chain: TestChain;
let sms: TestSms;
let world: World;
const store = storeUnderTest();

before(async () => {
  chain = await startTestChain();
  world = await setupWorld(chain);
  sms = await startTestSms({ chain, db: await store.db() });
});
after(async () => {
  await sms?.stop();
  await chain?.stop();
});

const key32 = () => randomBytes(32).toString('base64');
const req = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
  sms.client.request(method, path, body, headers);
const sign = (who: keyof World['roles'], challenge: Hex) =>
  world.roles[who].account.signMessage({ message: { raw: challenge } });

describe('service', () => {
  it('/health answers 200 with the store kind and chain', async () => {
    const h = await sms.client.health();
    assert.equal(h.status, 'ok');
    assert.equal(h.db, store.kind);
    assert.equal(h.chainId, chain.chainId);
  });
  it('serves TLS only with its certificate (an untrusting client is refused)', async () => {
    const { createSmsClient: smsClient } = await import('../../src/sms-client/index.js');
    await assert.rejects(smsClient(sms.url).health(), /SMS_TLS_UNTRUSTED|certificate/);
  });
  it('never reads a secret back (GET is 405)', async () => {
    const r = await req('GET', `/secrets/web3?secretAddress=${world.dataset}`);
    assert.equal(r.status, 405);
  });
  it('GET /tee/nonce gives fresh 32-byte nonces; POST /tee/challenges with a bad task id is 400', async () => {
    const a = await sms.client.getNonce();
    const b = await sms.client.getNonce();
    assert.match(a.nonce, /^0x[0-9a-f]{64}$/);
    assert.notEqual(a.nonce, b.nonce);
    assert.ok(Date.parse(a.expiresAt) > Date.now());
    const r = await req('POST', '/tee/challenges/0x1234', '');
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, 'TASK_ID_INVALID');
  });
  it('unknown routes are 404', async () => {
    assert.equal((await req('GET', '/nope')).status, 404);
  });
});

describe('web3 secrets (dataset keys)', () => {
  const path = () => `/secrets/web3?secretAddress=${world.dataset}`;
  const key = key32();
  it('HEAD is 404 before a push', async () => {
    assert.equal((await req('HEAD', path())).status, 404);
  });
  it('POST by a non-owner is 401 and the body names the expected signer', async () => {
    const r = await req('POST', path(), key, {
      Authorization: await sign('other', web3SecretChallenge(world.dataset, key)),
    });
    assert.equal(r.status, 401);
    assert.equal(
      String(r.json?.error?.expectedSigner).toLowerCase(),
      world.roles.datasetOwner.account.address.toLowerCase(),
    );
  });
  it('POST without Authorization is 401', async () => {
    const r = await req('POST', path(), key);
    assert.equal(r.status, 401);
    assert.equal(r.json?.error?.code, 'AUTHORIZATION_MISSING');
  });
  it('POST signed over another value is 401 (the challenge covers the secret)', async () => {
    const r = await req('POST', path(), key, {
      Authorization: await sign('datasetOwner', web3SecretChallenge(world.dataset, key32())),
    });
    assert.equal(r.status, 401);
  });
  it('POST over 4096 bytes is 413', async () => {
    const big = 'A'.repeat(4097);
    const r = await req('POST', path(), big, {
      Authorization: await sign('datasetOwner', web3SecretChallenge(world.dataset, big)),
    });
    assert.equal(r.status, 413);
  });
  it('POST of a value that is not base64 of 32 bytes is 400', async () => {
    for (const bad of ['not-a-key', randomBytes(16).toString('base64'), `${key}x`]) {
      const r = await req('POST', path(), bad, {
        Authorization: await sign('datasetOwner', web3SecretChallenge(world.dataset, bad)),
      });
      assert.equal(r.status, 400, bad);
      assert.equal(r.json?.error?.code, 'DATASET_KEY_INVALID');
    }
  });
  it('POST for an address that is no asset is 401 (no owner on chain)', async () => {
    const nobody = privateKeyToAccount(`0x${randomBytes(32).toString('hex')}`).address;
    const r = await req('POST', `/secrets/web3?secretAddress=${nobody}`, key, {
      Authorization: await sign('datasetOwner', web3SecretChallenge(nobody, key)),
    });
    assert.equal(r.status, 401);
    assert.equal(r.json?.error?.code, 'SIGNER_UNKNOWN');
  });
  it('POST by the owner is 204, then HEAD is 204 (any address case), then POST again is 409', async () => {
    const auth = await sign('datasetOwner', web3SecretChallenge(world.dataset, key));
    assert.equal((await req('POST', path(), key, { Authorization: auth })).status, 204);
    assert.equal((await req('HEAD', path())).status, 204);
    assert.equal(
      (await req('HEAD', `/secrets/web3?secretAddress=${world.dataset.toLowerCase()}`)).status,
      204,
    );
    assert.equal(
      (await req('HEAD', `/secrets/web3?secretAddress=0x${world.dataset.slice(2).toUpperCase()}`)).status,
      204,
    );
    assert.equal((await req('POST', path(), key, { Authorization: auth })).status, 409);
  });
  it('malformed addresses are 400', async () => {
    assert.equal((await req('HEAD', '/secrets/web3?secretAddress=0x1234')).status, 400);
    assert.equal((await req('HEAD', '/secrets/web3')).status, 400);
  });
});

describe('web2 secrets', () => {
  const owner = () => world.roles.requester.account.address;
  const path = (name: string) =>
    `/secrets/web2?ownerAddress=${owner()}&secretName=${encodeURIComponent(name)}`;
  it('HEAD 404 → POST 204 → HEAD 204 → POST 409 → PUT 204 → PUT by another 401', async () => {
    const name = 'api-token';
    assert.equal((await req('HEAD', path(name))).status, 404);
    assert.equal(
      (
        await req('PUT', path(name), 'v0', {
          Authorization: await sign('requester', web2SecretChallenge(owner(), name, 'v0')),
        })
      ).status,
      404,
    );
    assert.equal(
      (
        await req('POST', path(name), 'v1', {
          Authorization: await sign('requester', web2SecretChallenge(owner(), name, 'v1')),
        })
      ).status,
      204,
    );
    assert.equal((await req('HEAD', path(name))).status, 204);
    assert.equal(
      (
        await req('POST', path(name), 'v1', {
          Authorization: await sign('requester', web2SecretChallenge(owner(), name, 'v1')),
        })
      ).status,
      409,
    );
    assert.equal(
      (
        await req('PUT', path(name), 'v2', {
          Authorization: await sign('requester', web2SecretChallenge(owner(), name, 'v2')),
        })
      ).status,
      204,
    );
    const r = await req('PUT', path(name), 'v3', {
      Authorization: await sign('other', web2SecretChallenge(owner(), name, 'v3')),
    });
    assert.equal(r.status, 401);
    assert.equal(String(r.json?.error?.expectedSigner).toLowerCase(), owner().toLowerCase());
  });
  it('413 over 4096 bytes (POST and PUT)', async () => {
    const big = 'x'.repeat(5000);
    const auth = await sign('requester', web2SecretChallenge(owner(), 'big', big));
    assert.equal((await req('POST', path('big'), big, { Authorization: auth })).status, 413);
    assert.equal((await req('PUT', path('big'), big, { Authorization: auth })).status, 413);
  });
  it('the reserved result-encryption key name takes only base64 of an RSA public key PEM', async () => {
    const name = 'iexec-result-encryption-public-key';
    const bad = Buffer.from('hello').toString('base64');
    let r = await req('POST', path(name), bad, {
      Authorization: await sign('requester', web2SecretChallenge(owner(), name, bad)),
    });
    assert.equal(r.status, 400);
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    r = await req('HEAD', `/secrets/web2?ownerAddress=${owner()}&secretName=${name}`);
    assert.equal(r.status, 404);
    await sms.client.pushResultKey(world.roles.requester.account, pem);
    assert.equal(await sms.client.hasResultKey(owner()), true);
  });
});

describe('replayed pushes (iExec challenges have no nonce: each accepted signature is used up)', () => {
  const owner = () => world.roles.requester.account.address;
  const web2 = (name: string) =>
    `/secrets/web2?ownerAddress=${owner()}&secretName=${encodeURIComponent(name)}`;
  const stored = () => sms.store.getSecret({ kind: 'web2', owner: owner(), name: 'rotated-key' });
  it('a captured push of an old value, replayed after a rotation, is refused 403 SIGNATURE_REUSED and changes nothing', async () => {
    const name = 'rotated-key';
    const k1 = await sign('requester', web2SecretChallenge(owner(), name, 'K1'));
    assert.equal((await req('POST', web2(name), 'K1', { Authorization: k1 })).status, 204);
    const k2 = await sign('requester', web2SecretChallenge(owner(), name, 'K2'));
    assert.equal((await req('PUT', web2(name), 'K2', { Authorization: k2 })).status, 204);
    const rotated = await stored();
    // The attacker replays the captured POST (value K1 and its signature) as an update.
    const replay = await req('PUT', web2(name), 'K1', { Authorization: k1 });
    assert.equal(replay.status, 403);
    assert.equal(replay.json?.error?.code, 'SIGNATURE_REUSED');
    // Another spelling of the same signature (upper-case hex) is the same signature.
    const upper = await req('PUT', web2(name), 'K1', { Authorization: `0x${k1.slice(2).toUpperCase()}` });
    assert.equal(upper.json?.error?.code, 'SIGNATURE_REUSED');
    // A replay of the current value's update is refused too.
    assert.equal(
      (await req('PUT', web2(name), 'K2', { Authorization: k2 })).json?.error?.code,
      'SIGNATURE_REUSED',
    );
    assert.deepEqual(await stored(), rotated, 'the secret still holds K2');
    // Re-sending the first push still answers 409, as iexec-sms does.
    assert.equal((await req('POST', web2(name), 'K1', { Authorization: k1 })).status, 409);
    // A new value is accepted.
    const k3 = await sign('requester', web2SecretChallenge(owner(), name, 'K3'));
    assert.equal((await req('PUT', web2(name), 'K3', { Authorization: k3 })).status, 204);
  });
  it('a requester-secret signature replayed on the web2 endpoint (same challenge) is refused', async () => {
    const name = 'cross-endpoint';
    const value = 'requester-value';
    const signature = await sign('requester', web2SecretChallenge(owner(), name, value));
    const pushed = await req('POST', `/requesters/${owner()}/secrets/${name}`, value, {
      Authorization: signature,
    });
    assert.equal(pushed.status, 204);
    const replay = await req('POST', web2(name), value, { Authorization: signature });
    assert.equal(replay.status, 403);
    assert.equal(replay.json?.error?.code, 'SIGNATURE_REUSED');
    assert.equal((await req('HEAD', web2(name))).status, 404, 'no web2 secret was created');
  });
  it('keeps a hash of each accepted signature, never the signature or the value', async () => {
    const rows = await tableRows(sms.store, 'used_signatures');
    assert.ok(rows.length >= 3);
    const dump = JSON.stringify(rows);
    assert.doesNotMatch(dump, /K1|K2|requester-value/);
    for (const r of rows) assert.match(String(r.fingerprint), /^[0-9a-f]{64}$/);
  });
});

describe('app secrets', () => {
  it('HEAD 404 → POST by non-owner 401 → POST by owner 204 → HEAD 204 (both paths) → POST 409', async () => {
    const app = await world.newApp(world.mrenclaveJson);
    assert.equal((await req('HEAD', `/apps/${app}/secrets`)).status, 404);
    const v = 'dev-secret';
    const r = await req('POST', `/apps/${app}/secrets`, v, {
      Authorization: await sign('other', web2SecretChallenge(app, '1', v)),
    });
    assert.equal(r.status, 401);
    assert.equal(
      String(r.json?.error?.expectedSigner).toLowerCase(),
      world.roles.appDev.account.address.toLowerCase(),
    );
    const auth = await sign('appDev', web2SecretChallenge(app, '1', v));
    assert.equal((await req('POST', `/apps/${app}/secrets`, v, { Authorization: auth })).status, 204);
    assert.equal((await req('HEAD', `/apps/${app}/secrets`)).status, 204);
    assert.equal((await req('HEAD', `/apps/${app.toLowerCase()}/secrets/1`)).status, 204);
    assert.equal((await req('POST', `/apps/${app}/secrets`, v, { Authorization: auth })).status, 409);
    const big = 'y'.repeat(4097);
    assert.equal(
      (
        await req('POST', `/apps/${app}/secrets`, big, {
          Authorization: await sign('appDev', web2SecretChallenge(app, '1', big)),
        })
      ).status,
      413,
    );
  });
  it('the file-system key is an app secret of its own, immutable', async () => {
    const app = await world.newApp(world.mrenclaveJson);
    assert.equal(await sms.client.hasAppFsKey(app), false);
    await sms.client.pushAppFsKey(world.roles.appDev.account, app, 'fs-key-material');
    assert.equal(await sms.client.hasAppFsKey(app), true);
    assert.equal(await sms.client.hasAppSecret(app), false, 'the developer secret is separate');
    await assert.rejects(
      sms.client.pushAppFsKey(world.roles.appDev.account, app, 'other'),
      /SECRET_EXISTS|already exists/,
    );
  });
  it('400 for a malformed app address', async () => {
    assert.equal((await req('HEAD', '/apps/0xnope/secrets')).status, 400);
  });
});

describe('requester secrets', () => {
  const r0 = () => world.roles.requester.account.address;
  it('HEAD 404 → POST 204 → HEAD 204 → POST 409; signer must be the requester (401)', async () => {
    const p = `/requesters/${r0()}/secrets/my-key_1`;
    assert.equal((await req('HEAD', p)).status, 404);
    assert.equal(
      (
        await req('POST', p, 's', {
          Authorization: await sign('other', web2SecretChallenge(r0(), 'my-key_1', 's')),
        })
      ).status,
      401,
    );
    assert.equal(
      (
        await req('POST', p, 's', {
          Authorization: await sign('requester', web2SecretChallenge(r0(), 'my-key_1', 's')),
        })
      ).status,
      204,
    );
    assert.equal((await req('HEAD', `/requesters/${r0().toLowerCase()}/secrets/my-key_1`)).status, 204);
    assert.equal(
      (
        await req('POST', p, 's', {
          Authorization: await sign('requester', web2SecretChallenge(r0(), 'my-key_1', 's')),
        })
      ).status,
      409,
    );
  });
  it('400 for a name outside ^[A-Za-z0-9_-]{1,64}$, 413 over 4096 bytes', async () => {
    for (const bad of ['has space', 'a'.repeat(65), 'dot.name']) {
      const r = await req('HEAD', `/requesters/${r0()}/secrets/${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
    }
    const big = 'z'.repeat(4097);
    assert.equal(
      (
        await req('POST', `/requesters/${r0()}/secrets/big`, big, {
          Authorization: await sign('requester', web2SecretChallenge(r0(), 'big', big)),
        })
      ).status,
      413,
    );
  });
});

describe('interop: the real iexec SDK pushes to sealwork SMS', () => {
  let proxy: Server;
  const methods = new Set<string>();
  before(async () => {
    // A JSON-RPC proxy in front of anvil, to record exactly which chain calls the SDK makes.
    proxy = createServer((rq, rs) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c: Buffer) => chunks.push(c));
      rq.on('end', async () => {
        const body = Buffer.concat(chunks).toString();
        try {
          const j = JSON.parse(body) as { method?: string } | { method?: string }[];
          for (const m of Array.isArray(j) ? j : [j]) if (m.method) methods.add(m.method);
        } catch {
          /* not JSON */
        }
        const r = await fetch(chain.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        rs.writeHead(r.status, { 'content-type': 'application/json' });
        rs.end(await r.text());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  });
  after(() => new Promise<void>((r) => proxy.close(() => r())));

  it('pushes a dataset secret (204 → true), a second push is refused (409), and app/requester/result-key pushes work', async () => {
    const dataset = (
      await (
        await import('../../src/chain/index.js')
      ).createDataset(world.roles.datasetOwner, {
        name: 'sdk',
        multiaddr: 'https://x/y.enc',
        checksum: `0x${'44'.repeat(32)}`,
      })
    ).address;
    const app = await world.newApp(world.mrenclaveJson);
    const datasetKey = key32();
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const args = {
      chainUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      smsURL: sms.url,
      hubAddress: chain.deployment.hub,
      datasetOwnerKey: chain.accounts[2]!.privateKey,
      dataset,
      datasetKey,
      appOwnerKey: chain.accounts[1]!.privateKey,
      app,
      appSecret: 'sdk-app-secret',
      requesterSecretName: 'sdk-secret',
      requesterSecret: 'sdk-value',
      resultPublicKeyPem: pem,
    };
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'test/sms/iexec-sdk-push.ts'), JSON.stringify(args)],
        {
          cwd: ROOT,
          env: { ...process.env, NODE_EXTRA_CA_CERTS: sms.certPath! },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let so = '';
      let se = '';
      c.stdout.on('data', (d) => (so += d));
      c.stderr.on('data', (d) => (se += d));
      c.on('error', reject);
      c.on('close', (code) =>
        code === 0 ? resolve(so) : reject(new Error(`iexec child exited ${code}: ${se}`)),
      );
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(r.datasetExistsBefore, false, JSON.stringify(r));
    assert.equal(r.datasetPush, true, JSON.stringify(r));
    assert.match(String(r.datasetPushAgainError), /already exists/, JSON.stringify(r));
    assert.equal(r.datasetExistsAfter, true);
    assert.match(String(r.datasetPushByStrangerError), /not allowed/);
    assert.equal(r.appPush, true, JSON.stringify(r));
    assert.equal(r.appExists, true);
    assert.deepEqual(r.requesterPush, { isPushed: true }, JSON.stringify(r));
    assert.deepEqual(r.resultKeyPush, { isPushed: true, isUpdated: false }, JSON.stringify(r));
    assert.equal(r.resultKeyExists, true);
    // What the SMS stored is what the SDK sent.
    assert.equal(await sms.client.hasDatasetSecret(dataset), true);
    assert.equal(
      await sms.client.hasRequesterSecret(world.roles.datasetOwner.account.address, 'sdk-secret'),
      true,
    );
    // The only chain calls the SDK makes for these pushes (reported in docs/sms.md).
    assert.deepEqual([...methods].sort(), ['eth_chainId']);
  });
});

describe('chain outage', () => {
  it('answers 503 CHAIN_UNAVAILABLE when the chain is down, and HEAD (no chain) still works', async () => {
    const other = await startTestChain();
    const w = await setupWorld(other);
    const s = await startTestSms({ chain: other, db: await store.db() });
    try {
      const key = key32();
      await s.client.pushDatasetSecret(w.roles.datasetOwner.account, w.dataset, key);
      const dealId = await w.deal({});
      const taskId = await w.initialize(dealId, 0);
      const challenge = await s.client.getEnclaveChallenge(w.roles.scheduler.account, taskId);
      const platform = await openSimPlatform(s.home);
      const { req } = await sessionRequest({
        client: s.client,
        platform,
        world: w,
        taskId,
        dealId,
        taskIndex: 0,
        challenge,
      });
      await other.stop();
      const session = await s.client.request('POST', '/tee/sessions', JSON.stringify(req), {
        'content-type': 'application/json',
        Authorization: await w.roles.worker.account.signMessage({
          message: { raw: workerpoolAuthorizationHash(req.authorization) },
        }),
      });
      assert.equal(session.status, 503);
      assert.equal(session.json?.error?.code, 'CHAIN_UNAVAILABLE');
      const [audit] = await s.store.listAudit({ taskId, limit: 1 });
      assert.equal(audit?.verdict, 'refused', 'a release refused for a chain outage is audited');
      assert.equal(audit?.code, 'CHAIN_UNAVAILABLE');
      assert.deepEqual(audit?.secrets, []);
      const k2 = key32();
      const r = await s.client.request('POST', `/secrets/web3?secretAddress=${w.app}`, k2, {
        Authorization: await w.roles.appDev.account.signMessage({
          message: { raw: web3SecretChallenge(w.app, k2) },
        }),
      });
      assert.equal(r.status, 503);
      assert.equal(r.json?.error?.code, 'CHAIN_UNAVAILABLE');
      assert.equal(await s.client.hasDatasetSecret(w.dataset), true);
    } finally {
      await s.stop();
      await other.stop();
    }
  });
});
