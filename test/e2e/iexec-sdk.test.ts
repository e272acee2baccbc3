/**
 * The real `iexec` SDK (v9) through a whole TEE task against a running sealwork stack (anvil, SMS,
 * storage, worker): deploy, push keys, sign the four orders, matchOrders, obsTask, fetch and
 * decrypt the result; then claim an expired deal and list an owner's assets. Each call is the
 * SDK's own, in a child process (test/e2e/iexec-sdk-driver.ts). docs/iexec-compat.md lists what
 * each test here shows.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { initializeTask, readTask, TaskStatus } from '../../src/chain/index.js';
import { buildSampleApp, sampleDataset } from '../../src/sdk/stack/sample.js';
import { downloadResult } from '../../src/sdk/worker/requester.js';
import { putObject } from '../../src/worker/storage/client.js';
import { unzipEntries } from '../../src/worker/zip.js';
import { testClients } from '../helpers/chain.js';
import { b64, fromB64, startIexecSdk, type IexecSdk } from '../helpers/iexec-sdk.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

const skip = requires('iexec SDK end to end', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

interface SignedOrders {
  apporder: Record<string, unknown>;
  datasetorder: Record<string, unknown>;
  workerpoolorder: Record<string, unknown>;
  requestorder: Record<string, unknown>;
}

describe('the iexec SDK v9 against sealwork', { skip }, () => {
  let s: TestStack;
  let sdk: IexecSdk;
  // anvil's dev accounts: 1 app developer, 2 dataset owner, 3 workerpool owner (the stack's scheduler), 4 requester.
  const K: Record<'app' | 'ds' | 'wp' | 'rq', string> = { app: '', ds: '', wp: '', rq: '' };
  const addr: Record<'app' | 'ds' | 'wp' | 'rq', Address> = { app: '0x', ds: '0x', wp: '0x', rq: '0x' };
  let app: Address;
  let dataset: Address;
  let sdkPool: Address;
  let resultKey: string;
  let firstDeal: Hex;
  let firstRequestHash: Hex;
  // SDK 9's preflight refuses apps with an MREnclave (signApporder, matchOrders); sealwork's TEE
  // apps have one (their fingerprint). Dataset and request orders keep their preflight checks,
  // which ask sealwork's SMS for the dataset key and the result key.
  const noCheck = { preflightCheck: false };

  before(async () => {
    s = await startTestStack();
    (['app', 'ds', 'wp', 'rq'] as const).forEach((k, i) => {
      K[k] = s.chain.accounts[i + 1]!.privateKey;
      addr[k] = s.chain.accounts[i + 1]!.address;
    });
    const caFile = join(s.home, 'stack-ca.pem');
    writeFileSync(caFile, s.stack.sms.cert + readFileSync(s.stack.storage.certPath!, 'utf8'));
    sdk = startIexecSdk(
      {
        chainUrl: s.stack.chain.url,
        hubAddress: s.chain.deployment.hub,
        smsURL: s.stack.sms.url,
        ipfsGatewayURL: s.stack.storage.url,
        iexecGatewayURL: s.stack.market.url,
      },
      caFile,
    );
  });
  after(async () => {
    sdk?.stop();
    await s?.stop();
  });

  /** The four orders, created and signed by their owners through the SDK. */
  async function signOrders(p: {
    workerpool: Address;
    volume: number;
    params: object;
  }): Promise<SignedOrders> {
    const apporder = await sdk.call<Record<string, unknown>>(
      K.app,
      'order.signApporder',
      await sdk.call(K.app, 'order.createApporder', { app, volume: p.volume }),
      noCheck,
    );
    const datasetorder = await sdk.call<Record<string, unknown>>(
      K.ds,
      'order.signDatasetorder',
      await sdk.call(K.ds, 'order.createDatasetorder', { dataset, apprestrict: app, volume: p.volume }),
    );
    const workerpoolorder = await sdk.call<Record<string, unknown>>(
      K.wp,
      'order.signWorkerpoolorder',
      await sdk.call(K.wp, 'order.createWorkerpoolorder', {
        workerpool: p.workerpool,
        category: 0,
        volume: p.volume,
      }),
    );
    const requestorder = await sdk.call<Record<string, unknown>>(
      K.rq,
      'order.signRequestorder',
      await sdk.call(K.rq, 'order.createRequestorder', {
        app,
        dataset,
        workerpool: p.workerpool,
        category: 0,
        volume: p.volume,
        params: p.params,
      }),
    );
    return { apporder, datasetorder, workerpoolorder, requestorder };
  }

  it('deploys app, dataset and workerpool and pushes the dataset key and the result key', async () => {
    const built = await buildSampleApp({ dir: join(s.stack.appImageRoot, 'sdk') });
    const a = await sdk.call<{ address: Address }>(K.app, 'app.deployApp', {
      owner: addr.app,
      name: 'sdk-app',
      type: 'DOCKER',
      multiaddr: built.out,
      checksum: built.checksum,
      mrenclave: JSON.stringify(built.mrenclaveJson),
    });
    app = a.address;
    const key = await sdk.call<string>(K.ds, 'dataset.generateEncryptionKey');
    const enc = fromB64(await sdk.call(K.ds, 'dataset.encrypt', b64(sampleDataset()), key));
    const put = await putObject({
      url: s.stack.storage.url,
      data: enc,
      ca: [readFileSync(s.stack.storage.certPath!, 'utf8')],
    });
    const checksum = await sdk.call<Hex>(K.ds, 'dataset.computeEncryptedFileChecksum', b64(enc));
    assert.equal(checksum, put.sha256);
    dataset = (
      await sdk.call<{ address: Address }>(K.ds, 'dataset.deployDataset', {
        owner: addr.ds,
        name: 'patients.csv',
        multiaddr: put.url,
        checksum,
      })
    ).address;
    assert.equal(await sdk.call(K.ds, 'dataset.pushDatasetSecret', dataset, key), true);
    assert.equal(await sdk.call(K.ds, 'dataset.checkDatasetSecretExists', dataset), true);
    sdkPool = (
      await sdk.call<{ address: Address }>(K.wp, 'workerpool.deployWorkerpool', {
        owner: addr.wp,
        description: 'deployed by the iexec SDK',
      })
    ).address;
    const shown = await sdk.call<{ app: { appMREnclave: string; owner: Address } }>(K.rq, 'app.showApp', app);
    assert.equal(shown.app.owner, addr.app);
    assert.equal(JSON.parse(shown.app.appMREnclave).fingerprint, built.fingerprint);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    resultKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await sdk.call(
      K.rq,
      'result.pushResultEncryptionKey',
      pair.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    assert.equal(await sdk.call(K.rq, 'result.checkResultEncryptionKeyExists', addr.rq), true);
    // An SMS refusal the SDK does not expect: it prints only the status line, so the SMS puts its
    // code and reason in the reason phrase.
    await assert.rejects(
      sdk.call(K.ds, 'result.pushResultEncryptionKey', 'not a public key'),
      /SMS answered with unexpected status: 400 Bad Request - RESULT_KEY_INVALID: /,
    );
  });

  it('matchOrders with SDK-signed orders makes a deal the worker runs; obsTask sees it complete; decryptResult opens the result', async () => {
    const o = await signOrders({
      workerpool: s.stack.workerpool,
      volume: 1,
      params: { iexec_args: 'from the sdk', iexec_result_encryption: true },
    });
    // SDK 9 tags orders TEE + TDX (0x…09); sealwork honours the TEE bit and runs its simulated SGX.
    assert.equal(o.requestorder.tag, `0x${'0'.repeat(63)}9`);
    const estimate = await sdk.call<{ volume: string; total: string }>(K.rq, 'order.estimateMatchOrders', o);
    assert.deepEqual(estimate, { volume: '1', total: '0' });
    await assert.rejects(
      sdk.call(K.rq, 'order.matchOrders', o),
      /has an MREnclave, which is no longer supported/,
    );
    const m = await sdk.call<{ dealid: Hex; volume: string }>(K.rq, 'order.matchOrders', o, noCheck);
    assert.equal(m.volume, '1');
    const taskid = await sdk.call<Hex>(K.rq, 'deal.computeTaskId', m.dealid, 0);
    const task = await sdk.call<{ status: number; results: { storage: string; location: string } }>(
      K.rq,
      'waitTask',
      taskid,
      m.dealid,
    );
    assert.equal(task.status, TaskStatus.COMPLETED);
    firstDeal = m.dealid;
    firstRequestHash = await sdk.call<Hex>(K.rq, 'order.hashRequestorder', o.requestorder);
    // The SDK asks for IPFS storage by default: the result is stored content-addressed, as iExec does.
    const shown = await sdk.call<{ results: { storage: string; location: string } }>(
      K.rq,
      'task.show',
      taskid,
    );
    assert.equal(shown.results.storage, 'ipfs');
    assert.match(shown.results.location, /^\/ipfs\/b[a-z2-7]{50,}$/);
    const enc = fromB64(await sdk.call(K.rq, 'task.fetchResults', taskid));
    const zip = fromB64(await sdk.call(K.rq, 'utils.decryptResult', b64(enc), resultKey));
    const out = (await unzipEntries(zip)).get('result.txt')!.toString();
    assert.match(
      out,
      /^patients: 100\nmean glucose: 123\.2 mg\/dL\nat or above 126 mg\/dL: 47\nargs: from the sdk\n$/,
    );
    // sealwork's own download checks the UnixFS CID and the on-chain digest, and decrypts the
    // iExec key wrap too.
    const keyFile = join(s.home, 'sdk-result.key');
    writeFileSync(keyFile, resultKey, { mode: 0o600 });
    const dl = await downloadResult({
      home: s.home,
      chainUrl: s.stack.chain.url,
      taskId: taskid,
      decrypt: true,
      keyFile,
      out: join(s.home, 'dl-sdk'),
      onWarning: () => undefined,
    });
    assert.deepEqual([dl.contentAddressChecked, dl.digestChecked, dl.format], [true, true, 'iexec']);
    assert.equal(readFileSync(join(s.home, 'dl-sdk', 'result.txt'), 'utf8'), out);
  });

  it('deal.claim on an expired deal sets its tasks FAILED (claimArray and initializeAndClaimArray)', async () => {
    // Deals on the SDK's own workerpool, which no worker serves: their tasks expire. One deal has
    // its tasks started (the SDK claims them with claimArray), the other never started
    // (initializeAndClaimArray).
    const started = await sdk.call<{ dealid: Hex }>(
      K.rq,
      'order.matchOrders',
      await signOrders({ workerpool: sdkPool, volume: 2, params: { iexec_args: 'started' } }),
      noCheck,
    );
    const never = await sdk.call<{ dealid: Hex }>(
      K.rq,
      'order.matchOrders',
      await signOrders({ workerpool: sdkPool, volume: 2, params: { iexec_args: 'never started' } }),
      noCheck,
    );
    const { role, publicClient: pc } = testClients(s.chain);
    const t0 = await initializeTask(role(3), started.dealid, 0n);
    const t1 = await initializeTask(role(3), started.dealid, 1n);
    await assert.rejects(sdk.call(K.rq, 'deal.claim', started.dealid), /final time/);
    // Time passes for the chain and for the SDK's clock alike (category 0: final deadline 3000 s).
    await s.chain.increaseTime(3001);
    await sdk.call(K.rq, 'advanceClock', 3001);
    type Claimed = { transactions: { type: string }[]; claimed: Record<string, Hex> };
    const a = await sdk.call<Claimed>(K.rq, 'deal.claim', started.dealid);
    assert.deepEqual(
      a.transactions.map((t) => t.type),
      ['claimArray'],
    );
    assert.deepEqual(a.claimed, { '0': t0.taskid, '1': t1.taskid });
    const b = await sdk.call<Claimed>(K.rq, 'deal.claim', never.dealid);
    assert.deepEqual(
      b.transactions.map((t) => t.type),
      ['initializeAndClaimArray'],
    );
    assert.equal(Object.keys(b.claimed).length, 2);
    for (const t of [...Object.values(a.claimed), ...Object.values(b.claimed)])
      assert.equal((await readTask(pc, s.chain.deployment.hub, t)).status, TaskStatus.FAILED);
    const shown = await sdk.call<{ statusName: string }>(K.rq, 'task.show', b.claimed['1']);
    assert.equal(shown.statusName, 'FAILED');
    await assert.rejects(sdk.call(K.rq, 'deal.claim', never.dealid), /Nothing to claim/);
  });

  it("showUserApp / showUserDataset / showUserWorkerpool list an owner's assets", async () => {
    const a = await sdk.call<{ objAddress: Address }>(K.rq, 'app.showUserApp', 0, addr.app);
    assert.equal(a.objAddress, app);
    assert.equal(await sdk.call(K.rq, 'app.countUserApps', addr.app), '1');
    const d = await sdk.call<{ objAddress: Address }>(K.rq, 'dataset.showUserDataset', 0, addr.ds);
    assert.equal(d.objAddress, dataset);
    // The stack's dev workerpool was the workerpool owner's first; the SDK's is the second.
    assert.equal(await sdk.call(K.rq, 'workerpool.countUserWorkerpools', addr.wp), '2');
    const w0 = await sdk.call<{ objAddress: Address }>(K.rq, 'workerpool.showUserWorkerpool', 0, addr.wp);
    const w1 = await sdk.call<{ objAddress: Address }>(K.rq, 'workerpool.showUserWorkerpool', 1, addr.wp);
    assert.deepEqual([w0.objAddress, w1.objAddress], [s.stack.workerpool, sdkPool]);
    await assert.rejects(sdk.call(K.rq, 'app.showUserApp', 1, addr.app));
  });

  it('order.publish* puts SDK-signed orders on the hub through the market API; orderbook.fetch* and deal.fetchRequesterDeals list them', async () => {
    const o = await signOrders({ workerpool: sdkPool, volume: 5, params: { iexec_args: 'market' } });
    // Only an order's owner may publish it.
    await assert.rejects(sdk.call(K.rq, 'order.publishApporder', o.apporder, noCheck), /owner/);
    const h = {
      app: await sdk.call<Hex>(K.app, 'order.publishApporder', o.apporder, noCheck),
      dataset: await sdk.call<Hex>(K.ds, 'order.publishDatasetorder', o.datasetorder),
      workerpool: await sdk.call<Hex>(K.wp, 'order.publishWorkerpoolorder', o.workerpoolorder),
      request: await sdk.call<Hex>(K.rq, 'order.publishRequestorder', o.requestorder),
    };
    assert.equal(h.app, await sdk.call(K.app, 'order.hashApporder', o.apporder));
    assert.equal(h.request, await sdk.call(K.rq, 'order.hashRequestorder', o.requestorder));
    type Book = { count: number; orders: { orderHash: Hex; remaining: number; order: { tag: Hex } }[] };
    const book = (call: string, q: object) => sdk.call<Book>(K.rq, `orderbook.${call}`, q);
    const hashes = (b: Book) => b.orders.map((x) => x.orderHash);
    assert.deepEqual(hashes(await book('fetchAppOrderbook', { app })), [h.app]);
    // The dataset order is restricted to the app: listed when the query names that app.
    assert.deepEqual(hashes(await book('fetchDatasetOrderbook', { dataset })), []);
    assert.deepEqual(hashes(await book('fetchDatasetOrderbook', { dataset, app })), [h.dataset]);
    assert.deepEqual(hashes(await book('fetchWorkerpoolOrderbook', { workerpool: sdkPool, category: 0 })), [
      h.workerpool,
    ]);
    // The request names its workerpool (a restriction): listed when the query names it, as iExec's market.
    assert.deepEqual(hashes(await book('fetchRequestOrderbook', { requester: addr.rq })), []);
    assert.deepEqual(
      hashes(await book('fetchRequestOrderbook', { requester: addr.rq, workerpool: sdkPool })),
      [h.request],
    );
    const one = await sdk.call<{ remaining: number; status: string; order: { app: Address } }>(
      K.rq,
      'orderbook.fetchApporder',
      h.app,
    );
    assert.deepEqual([one.remaining, one.status, one.order.app], [5, 'open', app]);
    // The dev workerpool offers TEE + TDX, so SDK 9 requests can use it from the order book.
    const dev = await book('fetchWorkerpoolOrderbook', { workerpool: s.stack.workerpool, category: 0 });
    assert.ok(dev.orders.some((x) => x.order.tag === `0x${'0'.repeat(63)}9`));
    // Deals, from the hub's OrdersMatched events.
    type Deals = { count: number; deals: { dealid: Hex; requester: Address }[] };
    const deals = await sdk.call<Deals>(K.rq, 'deal.fetchRequesterDeals', addr.rq);
    assert.ok(deals.deals.some((d) => d.dealid === firstDeal));
    assert.ok(deals.deals.every((d) => d.requester === addr.rq));
    assert.equal((await sdk.call<Deals>(K.rq, 'deal.fetchRequesterDeals', addr.ds)).count, 0);
    const byRequest = await sdk.call<Deals>(K.rq, 'deal.fetchDealsByRequestorder', firstRequestHash);
    assert.deepEqual(
      byRequest.deals.map((d) => d.dealid),
      [firstDeal],
    );
  });
});
