/** The contracts and the domain API against a real anvil: orders, restrictions, deals, tasks. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createPublicClient,
  http,
  stringToHex,
  zeroAddress,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import {
  TAG_TEE,
  TaskStatus,
  assetOwner,
  authorizationMessage,
  cancelOrder,
  claimTask,
  computeDealId,
  computeTaskId,
  contributeAndFinalize,
  createApp,
  createAppOrder,
  createDataset,
  createDatasetOrder,
  createRequestOrder,
  createWorkerpool,
  createWorkerpoolOrder,
  enclaveMessage,
  hashOrder,
  hubAbi,
  initializeTask,
  listOrders,
  matchOrders,
  publishOrder,
  readApp,
  readConsumed,
  readDataset,
  readDeal,
  readTask,
  readWorkerpool,
  resultHash,
  resultSeal,
  signAuthorization,
  signEnclaveResult,
  signOrder,
  type AppOrder,
  type ChainWriter,
  type DatasetOrder,
  type OrderByKind,
  type OrderKind,
  type RequestOrder,
  type WorkerpoolOrder,
} from '../../src/chain/index.js';
import { isSealworkError } from '../../src/errors.js';
import { startTestChain, testClients, type TestChain, type TestRole } from '../helpers/chain.js';

let chain: TestChain;
let pc: PublicClient;
const role: Record<string, TestRole> = {};
let app: Address;
let teeApp: Address;
let dataset: Address;
let pool: Address;
const MRENCLAVE = JSON.stringify({
  framework: 'SCONE',
  version: 'v5',
  entrypoint: 'node /app/index.js',
  heapSize: 1073741824,
  fingerprint: 'a'.repeat(64),
});

async function rejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSealworkError(e), `expected SealworkError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

before(async () => {
  chain = await startTestChain();
  const clients = testClients(chain);
  pc = clients.publicClient;
  const names = [
    'deployer',
    'appDev',
    'datasetOwner',
    'scheduler',
    'requester',
    'worker',
    'enclave',
    'other',
  ];
  names.forEach((n, i) => {
    role[n] = clients.role(i);
  });
  app = (
    await createApp(role.appDev!, {
      name: 'app',
      multiaddr: 'docker.io/x/app:1',
      checksum: `0x${'11'.repeat(32)}`,
      mrenclave: '',
    })
  ).address;
  teeApp = (
    await createApp(role.appDev!, {
      name: 'tee',
      multiaddr: 'docker.io/x/tee:1',
      checksum: `0x${'22'.repeat(32)}`,
      mrenclave: MRENCLAVE,
    })
  ).address;
  dataset = (
    await createDataset(role.datasetOwner!, {
      name: 'data',
      multiaddr: 'https://h/data.enc',
      checksum: `0x${'33'.repeat(32)}`,
    })
  ).address;
  pool = (await createWorkerpool(role.scheduler!, { description: 'pool' })).address;
});
after(() => chain?.stop());

const dom = () => ({ chainId: chain.chainId, hub: chain.deployment.hub });

interface Set4 {
  a: AppOrder;
  d: DatasetOrder | undefined;
  w: WorkerpoolOrder;
  r: RequestOrder;
}
/** Orders for app/dataset/pool, customised, then signed by their owners. */
async function orders(
  o: {
    app?: Partial<AppOrder>;
    dataset?: Partial<DatasetOrder> | null;
    pool?: Partial<WorkerpoolOrder>;
    req?: Partial<RequestOrder>;
    appAddr?: Address;
  } = {},
): Promise<Set4> {
  const appAddr = o.appAddr ?? app;
  const a = await signOrder(
    role.appDev!.walletClient!,
    dom(),
    'app',
    createAppOrder({ app: appAddr, volume: 10n, ...o.app }),
  );
  const d =
    o.dataset === null
      ? undefined
      : await signOrder(
          role.datasetOwner!.walletClient!,
          dom(),
          'dataset',
          createDatasetOrder({ dataset, volume: 10n, ...o.dataset }),
        );
  const w = await signOrder(
    role.scheduler!.walletClient!,
    dom(),
    'workerpool',
    createWorkerpoolOrder({ workerpool: pool, volume: 10n, ...o.pool }),
  );
  const r = await signOrder(
    role.requester!.walletClient!,
    dom(),
    'request',
    createRequestOrder({
      app: appAddr,
      dataset: d ? dataset : zeroAddress,
      requester: role.requester!.account.address,
      ...o.req,
    }),
  );
  return { a, d, w, r };
}
const match = (s: Set4, who = role.requester!) =>
  matchOrders(who, { app: s.a, dataset: s.d, workerpool: s.w, request: s.r });

describe('revert decoding', () => {
  it('has a sentence and a stable code for every custom error of every contract', async () => {
    const { chainErrorsAbi, CHAIN_ERROR_MESSAGES, decodeRevertData } =
      await import('../../src/chain/index.js');
    const { encodeErrorResult } = await import('viem');
    const names = (chainErrorsAbi as unknown as { name: string }[]).map((e) => e.name);
    assert.ok(names.includes('RestrictionViolated') && names.includes('ERC721IncorrectOwner'));
    assert.deepEqual(
      names.filter((n) => !CHAIN_ERROR_MESSAGES[n]),
      [],
    );
    const data = encodeErrorResult({
      abi: chainErrorsAbi,
      errorName: 'RestrictionViolated',
      args: [1, 0, app, teeApp],
    });
    const e = decodeRevertData(data);
    assert.equal(e?.code, 'ORDER_RESTRICTED');
    assert.equal(e?.message, `The dataset order restricts apps to ${app}; this match uses app ${teeApp}.`);
  });
});

describe('registries', () => {
  it('creates assets at their own addresses, owned by the NFT owner, with PoCo getters', async () => {
    const info = await readApp(pc, teeApp);
    assert.equal(info.owner, role.appDev!.account.address);
    assert.equal(info.multiaddr, 'docker.io/x/tee:1');
    assert.equal(info.type, 'DOCKER');
    assert.equal(info.mrenclave, MRENCLAVE);
    assert.equal(info.enclave?.framework, 'SCONE');
    assert.equal(info.enclave?.fingerprint, 'a'.repeat(64));
    const ds = await readDataset(pc, dataset);
    assert.equal(ds.multiaddr, 'https://h/data.enc');
    assert.equal(ds.checksum, `0x${'33'.repeat(32)}`);
    assert.equal((await readWorkerpool(pc, pool)).description, 'pool');
    await rejects(readApp(pc, role.other!.account.address), 'ASSET_NOT_FOUND');
    await rejects(readDataset(pc, chain.deployment.hub), 'ASSET_NOT_FOUND', /is not a sealwork dataset/);
    // An unreachable chain reads as such, not as a missing asset.
    const { freePort } = await import('../../src/chain/index.js');
    const dead = createPublicClient({
      transport: http(`http://127.0.0.1:${await freePort()}`, { retryCount: 0 }),
    }) as PublicClient;
    await rejects(readWorkerpool(dead, pool), 'CHAIN_UNREACHABLE');
    await rejects(
      createApp(role.appDev!, {
        name: 'app',
        multiaddr: 'docker.io/x/app:1',
        checksum: `0x${'11'.repeat(32)}`,
        mrenclave: '',
      }),
      'ASSET_ALREADY_EXISTS',
    );
  });

  it('transfers ownership with the NFT', async () => {
    const ds2 = (
      await createDataset(role.datasetOwner!, {
        name: 'tmp',
        multiaddr: 'https://h/tmp',
        checksum: `0x${'44'.repeat(32)}`,
      })
    ).address;
    const { datasetRegistryAbi } = await import('../../src/chain/index.js');
    const hash = await role.datasetOwner!.walletClient!.writeContract({
      address: chain.deployment.datasetRegistry,
      abi: datasetRegistryAbi,
      functionName: 'transferFrom',
      args: [role.datasetOwner!.account.address, role.other!.account.address, BigInt(ds2)],
      account: role.datasetOwner!.account,
      chain: null,
    });
    await pc.waitForTransactionReceipt({ hash });
    assert.equal(await assetOwner(pc, ds2), role.other!.account.address);
  });
});

describe('orders and deals', () => {
  it('matches and computes dealid/taskid like the off-chain formulas', async () => {
    const s = await orders({ req: { volume: 3n } });
    const reqHash = hashOrder('request', s.r, dom());
    const onchain = await pc.readContract({
      address: chain.deployment.hub,
      abi: hubAbi,
      functionName: 'hashRequestOrder',
      args: [s.r],
    });
    assert.equal(onchain, reqHash);
    const m = await match(s);
    assert.equal(m.dealid, computeDealId(reqHash, 0n));
    assert.equal(m.volume, 3n);
    assert.equal(await readConsumed(pc, chain.deployment.hub, reqHash), 3n);
    const deal = await readDeal(pc, chain.deployment.hub, m.dealid);
    assert.equal(deal.app.pointer, app);
    assert.equal(deal.dataset.owner, role.datasetOwner!.account.address);
    assert.equal(deal.workerpool.owner, role.scheduler!.account.address);
    assert.equal(deal.requester, role.requester!.account.address);
    assert.equal(deal.botSize, 3n);
    const t = await initializeTask(role.scheduler!, m.dealid, 2);
    assert.equal(t.taskid, computeTaskId(m.dealid, 2n));
    const task = await readTask(pc, chain.deployment.hub, t.taskid);
    assert.equal(task.status, TaskStatus.ACTIVE);
    assert.equal(task.finalDeadline, deal.startTime + 3000n);
    await rejects(initializeTask(role.scheduler!, m.dealid, 3), 'TASK_INDEX_OUT_OF_RANGE');
    await rejects(initializeTask(role.requester!, m.dealid, 0), 'TASK_NOT_WORKERPOOL_OWNER');
    await rejects(initializeTask(role.scheduler!, m.dealid, 2), 'TASK_WRONG_STATUS');
  });

  it('accepts each restriction when it names the counterpart and refuses it otherwise', async () => {
    const me = { app, dataset, pool, requester: role.requester!.account.address };
    const wrong = role.other!.account.address;
    const cases: [string, (x: Address) => Parameters<typeof orders>[0], RegExp][] = [
      ['app order → dataset', (x) => ({ app: { datasetrestrict: x } }), /app order restricts datasets/],
      [
        'app order → workerpool',
        (x) => ({ app: { workerpoolrestrict: x } }),
        /app order restricts workerpools/,
      ],
      ['app order → requester', (x) => ({ app: { requesterrestrict: x } }), /app order restricts requesters/],
      [
        'dataset order → app',
        (x) => ({ dataset: { apprestrict: x } }),
        /dataset order restricts apps to .*; this match uses app/,
      ],
      [
        'dataset order → workerpool',
        (x) => ({ dataset: { workerpoolrestrict: x } }),
        /dataset order restricts workerpools/,
      ],
      [
        'dataset order → requester',
        (x) => ({ dataset: { requesterrestrict: x } }),
        /dataset order restricts requesters/,
      ],
      ['workerpool order → app', (x) => ({ pool: { apprestrict: x } }), /workerpool order restricts apps/],
      [
        'workerpool order → dataset',
        (x) => ({ pool: { datasetrestrict: x } }),
        /workerpool order restricts datasets/,
      ],
      [
        'workerpool order → requester',
        (x) => ({ pool: { requesterrestrict: x } }),
        /workerpool order restricts requesters/,
      ],
      ['request → workerpool', (x) => ({ req: { workerpool: x } }), /request asks for workerpool/],
    ];
    const right = (label: string): Address =>
      label.endsWith('dataset')
        ? me.dataset
        : label.endsWith('workerpool')
          ? me.pool
          : label.endsWith('requester')
            ? me.requester
            : me.app;
    for (const [label, mk, re] of cases) {
      await rejects(
        match(await orders(mk(wrong))),
        label.startsWith('request') ? 'ORDER_WORKERPOOL_MISMATCH' : 'ORDER_RESTRICTED',
        re,
      );
      const ok = await match(await orders(mk(right(label))));
      assert.equal(ok.volume, 1n, label);
    }
  });

  it('refuses an order signed by a non-owner, and accepts a published (presigned) one', async () => {
    const s = await orders();
    const byOther = <K extends OrderKind>(k: K, o: OrderByKind[K]) =>
      signOrder(role.other!.walletClient, dom(), k, { ...o });
    await rejects(
      match({ ...s, d: await byOther('dataset', s.d!) }),
      'ORDER_SIGNATURE_INVALID',
      /dataset order/,
    );
    await rejects(
      match({ ...s, w: await byOther('workerpool', s.w) }),
      'ORDER_SIGNATURE_INVALID',
      /workerpool order/,
    );
    await rejects(
      match({ ...s, r: await byOther('request', s.r) }),
      'ORDER_SIGNATURE_INVALID',
      /request order/,
    );
    s.a = await byOther('app', s.a);
    await rejects(match(s), 'ORDER_SIGNATURE_INVALID', /app order .* is neither signed by/);
    const r2 = await signOrder(role.other!.walletClient!, dom(), 'request', { ...s.r });
    await rejects(publishOrder(role.other!, 'request', r2), 'ORDER_SIGNATURE_INVALID');
    // The owner publishes an unsigned order: it becomes valid without a signature.
    const unsigned = { ...s.a, sign: '0x' as Hex };
    await rejects(match({ ...s, a: unsigned }), 'ORDER_SIGNATURE_INVALID');
    await publishOrder(role.appDev!, 'app', unsigned);
    assert.equal((await match({ ...s, a: unsigned })).volume, 1n);
  });

  it('consumes volumes, refuses an exhausted order, and refuses a cancelled order', async () => {
    const s = await orders({ app: { volume: 2n }, req: { volume: 5n } });
    const reqHash = hashOrder('request', s.r, dom());
    const m1 = await match(s);
    assert.equal(m1.volume, 2n);
    const s2 = {
      ...s,
      a: await signOrder(role.appDev!.walletClient!, dom(), 'app', createAppOrder({ app, volume: 1n })),
    };
    const m2 = await match(s2);
    assert.equal(m2.dealid, computeDealId(reqHash, 2n), 'second deal id uses the consumed volume');
    assert.equal(m2.botFirst, 2n);
    await rejects(match(s), 'ORDER_CONSUMED', /app order .* has no volume left/);
    const s3 = await orders();
    await rejects(cancelOrder(role.other!, 'workerpool', s3.w), 'ORDER_NOT_OWNER');
    await cancelOrder(role.scheduler!, 'workerpool', s3.w);
    await rejects(match(s3), 'ORDER_CONSUMED', /workerpool order/);
  });

  it('enforces TEE tags, categories, trust, prices and dataset-less requests', async () => {
    await rejects(match(await orders({ req: { tag: TAG_TEE } })), 'ORDER_TAG_NOT_SUPPORTED');
    await rejects(
      match(await orders({ req: { tag: TAG_TEE }, pool: { tag: TAG_TEE } })),
      'ORDER_TEE_NOT_ALLOWED_BY_APP',
    );
    assert.equal(
      (await match(await orders({ req: { tag: TAG_TEE }, pool: { tag: TAG_TEE }, app: { tag: TAG_TEE } })))
        .volume,
      1n,
    );
    await rejects(match(await orders({ req: { category: 1n } })), 'ORDER_CATEGORY_MISMATCH');
    await rejects(match(await orders({ req: { category: 9n }, pool: { category: 9n } })), 'CATEGORY_UNKNOWN');
    await rejects(match(await orders({ req: { trust: 3n } })), 'ORDER_TRUST_TOO_HIGH');
    await rejects(match(await orders({ app: { appprice: 1n } })), 'ORDER_PRICE_NOT_ZERO', /prices must be 0/);
    assert.equal((await match(await orders({ dataset: null }))).volume, 1n);
    const s = await orders();
    await rejects(match({ ...s, d: undefined }), 'ORDER_DATASET_MISMATCH');
  });

  it('lists published orders from the chain, and drops them once consumed', async () => {
    const s = await orders({ app: { volume: 1n } });
    await publishOrder(role.appDev!, 'app', s.a);
    await publishOrder(role.requester!, 'request', s.r);
    const h = hashOrder('app', s.a, dom());
    const byApp = await listOrders(pc, chain.deployment, { app });
    assert.ok(byApp.some((p) => p.orderHash === h && p.kind === 'app' && p.remaining === 1n));
    assert.ok(byApp.some((p) => p.kind === 'request'));
    const byReq = await listOrders(pc, chain.deployment, {
      requester: role.requester!.account.address,
      kind: 'request',
    });
    assert.ok(byReq.every((p) => p.kind === 'request') && byReq.length >= 1);
    // Read in narrow block ranges (as for RPC endpoints that cap eth_getLogs): the same market.
    const narrow = await listOrders(pc, chain.deployment, { app }, { blockRange: 7n });
    assert.deepEqual(
      narrow.map((p) => p.orderHash),
      byApp.map((p) => p.orderHash),
    );
    await match(s);
    assert.ok(!(await listOrders(pc, chain.deployment, { app })).some((p) => p.orderHash === h));
    assert.ok((await listOrders(pc, chain.deployment, { app, all: true })).some((p) => p.orderHash === h));
  });
});

describe('tasks: contributeAndFinalize and claim', () => {
  let taskid: Hex;
  let worker: PrivateKeyAccount;
  let enclave: PrivateKeyAccount;
  const digest = `0x${'ab'.repeat(32)}` as Hex;
  const results = stringToHex('https://storage/results.zip');

  async function newTeeTask(): Promise<Hex> {
    const s = await orders({
      appAddr: teeApp,
      req: { tag: TAG_TEE },
      pool: { tag: TAG_TEE },
      app: { tag: TAG_TEE },
    });
    const m = await match(s);
    return (await initializeTask(role.scheduler!, m.dealid, m.botFirst)).taskid;
  }
  const contribute = async (p: {
    by?: ChainWriter;
    authSigner?: PrivateKeyAccount;
    authWorker?: Address;
    enclaveSigner?: PrivateKeyAccount;
    signedDigest?: Hex;
    noAuth?: boolean;
    noEnclave?: boolean;
    task?: Hex;
  }) => {
    const t = p.task ?? taskid;
    const authorizationSign = p.noAuth
      ? ('0x' as Hex)
      : await signAuthorization(p.authSigner ?? role.scheduler!.account, {
          worker: p.authWorker ?? worker.address,
          taskid: t,
          enclaveChallenge: enclave.address,
        });
    const enclaveSign = await signEnclaveResult(p.enclaveSigner ?? enclave, {
      worker: worker.address,
      taskid: t,
      resultDigest: p.signedDigest ?? digest,
    });
    return contributeAndFinalize(p.by ?? role.worker!, {
      taskid: t,
      resultDigest: digest,
      results,
      enclaveChallenge: p.noEnclave ? zeroAddress : enclave.address,
      enclaveSign,
      authorizationSign,
    });
  };

  before(async () => {
    worker = role.worker!.account;
    enclave = role.enclave!.account;
    taskid = await newTeeTask();
  });

  it('exposes the iExec formulas off chain', () => {
    assert.notEqual(resultHash(taskid, digest), resultSeal(worker.address, taskid, digest));
    assert.equal(enclaveMessage(worker.address, taskid, digest).length, 66);
    assert.equal(authorizationMessage(worker.address, taskid, enclave.address).length, 66);
  });

  it('refuses a wrong enclave key, a wrong worker, a wrong digest, a missing authorization, no enclave', async () => {
    await rejects(contribute({ enclaveSigner: role.other!.account }), 'TASK_ENCLAVE_SIGNATURE_INVALID');
    await rejects(contribute({ by: role.other! }), 'TASK_AUTHORIZATION_INVALID', /did not authorize worker/);
    await rejects(contribute({ signedDigest: `0x${'cd'.repeat(32)}` }), 'TASK_ENCLAVE_SIGNATURE_INVALID');
    await rejects(contribute({ noAuth: true }), 'TASK_AUTHORIZATION_INVALID');
    await rejects(contribute({ authSigner: role.other!.account }), 'TASK_AUTHORIZATION_INVALID');
    await rejects(contribute({ noEnclave: true }), 'TASK_ENCLAVE_REQUIRED');
    assert.equal((await readTask(pc, chain.deployment.hub, taskid)).status, TaskStatus.ACTIVE);
  });

  it('accepts the correct enclave signature → COMPLETED with the result', async () => {
    await contribute({});
    const t = await readTask(pc, chain.deployment.hub, taskid);
    assert.equal(t.status, TaskStatus.COMPLETED);
    assert.equal(t.resultDigest, digest);
    assert.equal(t.results, results);
    assert.equal(t.consensusValue, resultHash(taskid, digest));
    assert.deepEqual(t.contributors, [worker.address]);
    await rejects(contribute({}), 'TASK_WRONG_STATUS', /COMPLETED/);
    await rejects(claimTask(role.requester!, taskid), 'TASK_WRONG_STATUS');
  });

  it('completes a non-TEE task without an enclave, with the workerpool authorization only', async () => {
    const m = await match(await orders({ dataset: null }));
    const t = (await initializeTask(role.scheduler!, m.dealid, m.botFirst)).taskid;
    const auth = (w: Address) =>
      signAuthorization(role.scheduler!.account, { worker: w, taskid: t, enclaveChallenge: zeroAddress });
    const send = async (authorizationSign: Hex) =>
      contributeAndFinalize(role.worker!, { taskid: t, resultDigest: digest, results, authorizationSign });
    await rejects(send(await auth(role.other!.account.address)), 'TASK_AUTHORIZATION_INVALID');
    await send(await auth(worker.address));
    const done = await readTask(pc, chain.deployment.hub, t);
    assert.equal(done.status, TaskStatus.COMPLETED);
    assert.equal(done.consensusValue, resultHash(t, digest));
  });

  it('claims a task after its final deadline → FAILED (not before)', async () => {
    const t2 = await newTeeTask();
    await rejects(claimTask(role.requester!, t2), 'TASK_FINAL_DEADLINE_NOT_REACHED');
    await chain.increaseTime(3001);
    await rejects(contribute({ task: t2 }), 'TASK_CONTRIBUTION_DEADLINE');
    await claimTask(role.requester!, t2);
    assert.equal((await readTask(pc, chain.deployment.hub, t2)).status, TaskStatus.FAILED);
  });
});

describe('interop with the real iexec SDK v9', () => {
  it('orders created and signed by the iexec SDK hash like ours and match on our hub', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const { orderFromJson } = await import('../../src/chain/index.js');
    const { ROOT } = await import('../helpers/cli.js');
    const args = {
      chainUrl: chain.url,
      hubAddress: chain.deployment.hub,
      app,
      dataset,
      workerpool: pool,
      keys: {
        app: chain.accounts[1]!.privateKey,
        dataset: chain.accounts[2]!.privateKey,
        workerpool: chain.accounts[3]!.privateKey,
        requester: chain.accounts[4]!.privateKey,
      },
    };
    const script = fileURLToPath(new URL('./iexec-sdk-orders.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], {
      encoding: 'utf8',
      cwd: ROOT,
      timeout: 60_000,
    });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    assert.equal(out.error, undefined, out.error);
    const a = orderFromJson('app', out.orders.apporder);
    const d = orderFromJson('dataset', out.orders.datasetorder);
    const w = orderFromJson('workerpool', out.orders.workerpoolorder);
    const q = orderFromJson('request', out.orders.requestorder);
    assert.equal(hashOrder('app', a, dom()), out.hashes.app);
    assert.equal(hashOrder('dataset', d, dom()), out.hashes.dataset);
    assert.equal(hashOrder('workerpool', w, dom()), out.hashes.workerpool);
    assert.equal(hashOrder('request', q, dom()), out.hashes.request);
    const m = await matchOrders(role.requester!, { app: a, dataset: d, workerpool: w, request: q });
    assert.equal(m.dealid, computeDealId(out.hashes.request, 0n));
    const deal = await readDeal(pc, chain.deployment.hub, m.dealid);
    // iexec v9 tags orders TEE (bit 0) + TDX (bit 3) by default: 0x…09.
    assert.equal(deal.tag, `0x${'0'.repeat(63)}9`);
    assert.equal(JSON.parse(deal.params).iexec_args, 'hello');
    assert.equal(out.appShow.app?.appMultiaddr, 'docker.io/x/app:1', JSON.stringify(out.appShow));
  });
});

describe('PoCo views and calls iExec tooling needs', () => {
  const hub = () => chain.deployment.hub;
  const write = async (
    who: TestRole,
    functionName: 'claimArray' | 'initializeAndClaimArray' | 'initializeArray',
    args: readonly unknown[],
  ) => {
    const { simulateContract, writeContract } = await import('viem/actions');
    const { decodeChainError } = await import('../../src/chain/index.js');
    try {
      const { request } = await simulateContract(pc, {
        address: hub(),
        abi: hubAbi,
        functionName,
        args: args as never,
        account: who.account,
      });
      const hash = await writeContract(who.walletClient!, request);
      return await pc.waitForTransactionReceipt({ hash });
    } catch (e) {
      throw decodeChainError(e);
    }
  };

  it('viewAccount: no stake and nothing locked, for anyone (prices are 0)', async () => {
    for (const who of [role.requester!.account.address, role.scheduler!.account.address, zeroAddress]) {
      const a = await pc.readContract({
        address: hub(),
        abi: hubAbi,
        functionName: 'viewAccount',
        args: [who],
      });
      assert.deepEqual(a, { stake: 0n, locked: 0n });
    }
  });

  it('claimArray / initializeAndClaimArray: all or nothing, only after the final deadline, anyone may claim', async () => {
    const s = await orders({ app: { volume: 3n }, pool: { volume: 3n }, req: { volume: 3n }, dataset: null });
    const m = await match(s);
    assert.equal(m.volume, 3n);
    const t0 = (await initializeTask(role.scheduler!, m.dealid, m.botFirst)).taskid;
    // Before the final deadline both revert, and nothing is initialized.
    await rejects(write(role.requester!, 'claimArray', [[t0]]), 'TASK_FINAL_DEADLINE_NOT_REACHED');
    await rejects(
      write(role.requester!, 'initializeAndClaimArray', [
        [m.dealid, m.dealid],
        [1n, 2n],
      ]),
      'TASK_FINAL_DEADLINE_NOT_REACHED',
    );
    assert.equal((await readTask(pc, hub(), computeTaskId(m.dealid, 1n))).status, TaskStatus.UNSET);
    await rejects(
      write(role.requester!, 'initializeAndClaimArray', [[m.dealid], [1n, 2n]]),
      'TASK_ARRAY_LENGTH_MISMATCH',
    );
    // initializeArray stays the scheduler's, as initialize.
    await rejects(write(role.requester!, 'initializeArray', [[m.dealid], [1n]]), 'TASK_NOT_WORKERPOOL_OWNER');
    await chain.increaseTime(3001);
    // An index outside the deal fails the whole call.
    await rejects(
      write(role.requester!, 'initializeAndClaimArray', [
        [m.dealid, m.dealid],
        [1n, 3n],
      ]),
      'TASK_INDEX_OUT_OF_RANGE',
    );
    const a = await write(role.requester!, 'claimArray', [[t0]]);
    const b = await write(role.requester!, 'initializeAndClaimArray', [
      [m.dealid, m.dealid],
      [1n, 2n],
    ]);
    for (const i of [0n, 1n, 2n])
      assert.equal((await readTask(pc, hub(), computeTaskId(m.dealid, i))).status, TaskStatus.FAILED);
    // Claiming again is refused (a FAILED task is final).
    await rejects(write(role.requester!, 'claimArray', [[t0]]), 'TASK_WRONG_STATUS');
    // Within the per-task gas the iexec SDK budgets when it splits a claim by the block gas limit.
    assert.ok(a.gasUsed < 55_000n, `claimArray(1) used ${a.gasUsed}`);
    assert.ok(b.gasUsed < 2n * 250_000n, `initializeAndClaimArray(2) used ${b.gasUsed}`);
  });

  it("the registries enumerate each owner's assets (ERC721Enumerable)", async () => {
    const reg = chain.deployment.appRegistry;
    const owner = role.appDev!.account.address;
    const { appRegistryAbi } = await import('../../src/chain/generated/appRegistry.js');
    const read = <T>(functionName: string, args: readonly unknown[]) =>
      pc.readContract({ address: reg, abi: appRegistryAbi, functionName, args } as never) as Promise<T>;
    const before = await read<bigint>('balanceOf', [owner]);
    const created = (
      await createApp(role.appDev!, {
        name: `enum-${Date.now()}`,
        multiaddr: 'docker.io/x/enum:1',
        checksum: `0x${'44'.repeat(32)}`,
        mrenclave: '',
      })
    ).address;
    assert.equal(await read<bigint>('balanceOf', [owner]), before + 1n);
    const ids: bigint[] = [];
    for (let i = 0n; i <= before; i++) ids.push(await read<bigint>('tokenOfOwnerByIndex', [owner, i]));
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.some((id) => id === BigInt(created)));
    assert.ok(ids.some((id) => id === BigInt(teeApp)));
    assert.ok((await read<bigint>('totalSupply', [])) >= before + 1n);
    await assert.rejects(read('tokenOfOwnerByIndex', [owner, before + 1n]), /ERC721OutOfBoundsIndex/);
  });
});
