/**
 * Gas per operation of the sealwork contracts on a fresh anvil:
 *   node --import tsx bench/gas.ts
 */
import { stringToHex, type Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import {
  TAG_TEE,
  claimTask,
  contributeAndFinalize,
  createApp,
  createAppOrder,
  createDataset,
  createDatasetOrder,
  createRequestOrder,
  createWorkerpool,
  createWorkerpoolOrder,
  initializeTask,
  matchOrders,
  publishOrder,
  signAuthorization,
  signEnclaveResult,
  signOrder,
  cancelOrder,
  hubAbi,
} from '../src/chain/index.js';
import { startTestChain, testClients } from '../test/helpers/chain.js';

const chain = await startTestChain();
try {
  const { role: w } = testClients(chain);
  const [dev, owner, sched, req, worker, enclave] = [w(1), w(2), w(3), w(4), w(5), w(6)];
  const dom = { chainId: chain.chainId, hub: chain.deployment.hub };
  const rows: [string, bigint][] = [];
  const mrenclave = JSON.stringify({
    framework: 'SCONE',
    version: 'v5',
    entrypoint: 'node /app/index.js',
    heapSize: 1073741824,
    fingerprint: 'f'.repeat(64),
  });

  const a = await createApp(dev, {
    name: 'bench-app',
    multiaddr: 'docker.io/sealwork/bench:1.0.0',
    checksum: `0x${'11'.repeat(32)}`,
    mrenclave,
  });
  rows.push(['createApp (with mrenclave JSON)', a.gasUsed]);
  const d = await createDataset(owner, {
    name: 'bench-data',
    multiaddr: 'https://storage.example/bench.enc',
    checksum: `0x${'22'.repeat(32)}`,
  });
  rows.push(['createDataset', d.gasUsed]);
  const p = await createWorkerpool(sched, { description: 'bench pool' });
  rows.push(['createWorkerpool', p.gasUsed]);

  const ao = await signOrder(
    dev.walletClient!,
    dom,
    'app',
    createAppOrder({ app: a.address, volume: 100n, tag: TAG_TEE }),
  );
  const dso = await signOrder(
    owner.walletClient!,
    dom,
    'dataset',
    createDatasetOrder({ dataset: d.address, volume: 100n, apprestrict: a.address }),
  );
  const wo = await signOrder(
    sched.walletClient!,
    dom,
    'workerpool',
    createWorkerpoolOrder({ workerpool: p.address, volume: 100n, tag: TAG_TEE }),
  );
  rows.push(['publish app order (broadcastAppOrder)', (await publishOrder(dev, 'app', ao)).gasUsed]);
  rows.push(['publish dataset order', (await publishOrder(owner, 'dataset', dso)).gasUsed]);
  const ro = await signOrder(
    req.walletClient!,
    dom,
    'request',
    createRequestOrder({
      app: a.address,
      dataset: d.address,
      workerpool: p.address,
      requester: req.account.address,
      tag: TAG_TEE,
      params: '{"iexec_args":"--n 1"}',
    }),
  );
  rows.push(['publish request order', (await publishOrder(req, 'request', ro)).gasUsed]);
  const m = await matchOrders(req, { app: ao, dataset: dso, workerpool: wo, request: ro });
  rows.push(['matchOrders (presigned app/dataset/request, signed workerpool)', m.gasUsed]);
  const ro2 = await signOrder(req.walletClient!, dom, 'request', { ...ro, salt: `0x${'33'.repeat(32)}` });
  const wo2 = await signOrder(sched.walletClient!, dom, 'workerpool', {
    ...wo,
    salt: `0x${'44'.repeat(32)}`,
  });
  const ao2 = await signOrder(dev.walletClient!, dom, 'app', { ...ao, salt: `0x${'55'.repeat(32)}` });
  const dso2 = await signOrder(owner.walletClient!, dom, 'dataset', { ...dso, salt: `0x${'66'.repeat(32)}` });
  const m2 = await matchOrders(req, { app: ao2, dataset: dso2, workerpool: wo2, request: ro2 });
  rows.push(['matchOrders (4 EIP-712 signatures)', m2.gasUsed]);
  const t = await initializeTask(sched, m.dealid, m.botFirst);
  rows.push(['initialize', t.gasUsed]);
  const digest = `0x${'ab'.repeat(32)}` as const;
  const authorizationSign = await signAuthorization(sched.account, {
    worker: worker.account.address,
    taskid: t.taskid,
    enclaveChallenge: enclave.account.address,
  });
  const enclaveSign = await signEnclaveResult(enclave.account, {
    worker: worker.account.address,
    taskid: t.taskid,
    resultDigest: digest,
  });
  const cf = await contributeAndFinalize(worker, {
    taskid: t.taskid,
    resultDigest: digest,
    results: stringToHex('https://storage.example/results/bench.zip'),
    enclaveChallenge: enclave.account.address,
    enclaveSign,
    authorizationSign,
  });
  rows.push(['contributeAndFinalize (TEE)', cf.gasUsed]);
  const t2 = await initializeTask(sched, m2.dealid, m2.botFirst);
  // A deal of 10 tasks: 5 initialized (claimArray), 5 never started (initializeAndClaimArray).
  const ro3 = await signOrder(req.walletClient!, dom, 'request', {
    ...ro,
    volume: 10n,
    salt: `0x${'77'.repeat(32)}`,
  });
  const m3 = await matchOrders(req, { app: ao2, dataset: dso2, workerpool: wo2, request: ro3 });
  const started: Hex[] = [];
  for (let i = 0n; i < 5n; i++)
    started.push((await initializeTask(sched, m3.dealid, m3.botFirst + i)).taskid);
  await chain.increaseTime(3001);
  rows.push(['claim (after final deadline)', (await claimTask(req, t2.taskid)).gasUsed]);
  const hubCall = async (
    functionName: 'claimArray' | 'initializeAndClaimArray',
    args: readonly unknown[],
  ) => {
    const { request } = await simulateContract(req.publicClient, {
      address: dom.hub,
      abi: hubAbi,
      functionName,
      args: args as never,
      account: req.account,
    });
    const hash = await writeContract(req.walletClient!, request);
    return (await req.publicClient.waitForTransactionReceipt({ hash })).gasUsed;
  };
  rows.push(['claimArray (5 started tasks)', await hubCall('claimArray', [started])]);
  rows.push([
    'initializeAndClaimArray (5 tasks never started)',
    await hubCall('initializeAndClaimArray', [
      Array.from({ length: 5 }, () => m3.dealid),
      Array.from({ length: 5 }, (_, i) => m3.botFirst + 5n + BigInt(i)),
    ]),
  ]);
  rows.push(['cancel workerpool order', (await cancelOrder(sched, 'workerpool', wo)).gasUsed]);

  const width = Math.max(...rows.map(([n]) => n.length));
  console.log(`gas per operation (anvil, solc 0.8.37 via-IR, optimizer 200 runs)`);
  for (const [n, g] of rows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
} finally {
  await chain.stop();
}
