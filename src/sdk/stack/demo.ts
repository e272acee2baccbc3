/**
 * The narrated demo of `sealwork dev`, and the building blocks tests reuse: each actor is a
 * distinct dev account (app developer, dataset owner, workerpool, requester).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import type { Address, Hex } from 'viem';
import {
  createApp,
  createAppOrder,
  createDataset,
  createDatasetOrder,
  devAccountByName,
  publishOrder,
  signOrder,
  TAG_TEE,
  type ChainClients,
} from '../../chain/index.js';
import { encryptDatasetBuffer, generateDatasetKey } from '../../crypto/dataset.js';
import { SealworkError } from '../../errors.js';
import { createSmsClient as smsClient, resolveSmsPin } from '../../sms-client/index.js';
import { putObject } from '../../worker/storage/client.js';
import type { ResultKeyFormat } from '../../worker/postcompute.js';
import { verifyRefusal, verifyTask, type VerifyTaskReport } from '../task/verify.js';
import { downloadResult, generateResultKeys, runApp, watchTask, type TaskInfo } from '../worker/requester.js';
import { createChainClientsFor, type Stack } from './index.js';
import { buildSampleApp, sampleDataset } from './sample.js';

export interface DemoStep {
  step: string;
  detail: string;
}

const writer = (c: ChainClients) => ({
  publicClient: c.publicClient,
  walletClient: c.walletClient,
  deployment: c.deployment,
});

/** An attested client of the stack's SMS (pinned by the SMS record of the stack's home). */
async function sms(stack: Stack) {
  return smsClient(stack.sms.url, {
    ca: stack.sms.cert,
    attest: await resolveSmsPin({ home: stack.home, url: stack.sms.url }),
  });
}

/** App developer: build the sample app, deploy it with its fingerprint, publish a TEE app order. */
export async function deploySampleApp(
  stack: Stack,
  p: {
    as?: string;
    dir: string;
    script?: string;
    name?: string;
    volume?: bigint;
    /** Deploy with a zero checksum (the image is then identified by its fingerprint only). */
    noChecksum?: boolean;
    /** Publish the image as an OCI archive in the stack's storage and deploy its https:// URL. */
    viaStorage?: boolean;
    /** FSPF regions; with an encrypted region, the file-system key is pushed to the SMS. */
    regions?: string[];
    files?: { path: string; data: Buffer }[];
    /** Build from this image and entrypoint instead of the busybox sample. */
    source?: { image: string; entrypoint: string };
    /** Network shield destinations (`host:port`), measured into the fingerprint. */
    egress?: string[];
  } = { dir: '' },
): Promise<{ app: Address; image: string; mrenclave: string; fingerprint: string; checksum: Hex }> {
  const dev = devAccountByName(p.as ?? 'app-dev');
  const built = await buildSampleApp({
    dir: p.dir,
    script: p.script,
    name: p.name,
    archive: p.viaStorage,
    ...(p.regions ? { regions: p.regions } : {}),
    ...(p.files ? { files: p.files } : {}),
    ...(p.source ? { source: p.source } : {}),
    ...(p.egress ? { egress: p.egress } : {}),
  });
  let multiaddr = built.out;
  if (p.viaStorage) {
    const ca = stack.storage.certPath ? [await fs.readFile(stack.storage.certPath, 'utf8')] : [];
    multiaddr = (await putObject({ url: stack.storage.url, data: await fs.readFile(built.out), ca })).url;
  }
  const c = await createChainClientsFor(stack.home, stack.chain.url, dev);
  const { address: app } = await createApp(writer(c), {
    name: p.name ?? 'sample-app',
    multiaddr,
    checksum: p.noChecksum ? `0x${'0'.repeat(64)}` : built.checksum,
    mrenclave: JSON.stringify(built.mrenclaveJson),
  });
  const order = await signOrder(
    c.walletClient!,
    { chainId: c.deployment.chainId, hub: c.deployment.hub },
    'app',
    createAppOrder({ app, tag: TAG_TEE, volume: p.volume ?? 1_000_000n }),
  );
  await publishOrder(writer(c), 'app', order);
  if (built.fsKeyFile)
    await (await sms(stack)).pushAppFsKey(dev, app, await fs.readFile(built.fsKeyFile, 'utf8'));
  return {
    app,
    image: built.out,
    mrenclave: built.mrenclave,
    fingerprint: built.fingerprint,
    checksum: built.checksum,
  };
}

/** Dataset owner: encrypt, store, deploy, push the key to the SMS, publish an order restricted to `app`. */
export async function deploySampleDataset(
  stack: Stack,
  p: {
    as?: string;
    data?: Buffer;
    restrictApp: Address;
    name?: string;
    volume?: bigint;
    /** Deploy with this location (e.g. `/ipfs/<cid>`) instead of the storage URL (still stored there). */
    multiaddr?: string;
  },
): Promise<{ dataset: Address; url: string; storedUrl: string; checksum: Hex }> {
  const owner = devAccountByName(p.as ?? 'dataset-owner');
  const key = generateDatasetKey();
  const enc = encryptDatasetBuffer(p.data ?? sampleDataset(), key);
  const put = await putObject({
    url: stack.storage.url,
    data: enc,
    ca: stack.storage.certPath ? [await fs.readFile(stack.storage.certPath, 'utf8')] : [],
  });
  const c = await createChainClientsFor(stack.home, stack.chain.url, owner);
  const { address: dataset } = await createDataset(writer(c), {
    name: p.name ?? 'patients.csv',
    multiaddr: p.multiaddr ?? put.url,
    checksum: put.sha256,
  });
  await (await sms(stack)).pushDatasetSecret(owner, dataset, key);
  const order = await signOrder(
    c.walletClient!,
    { chainId: c.deployment.chainId, hub: c.deployment.hub },
    'dataset',
    createDatasetOrder({ dataset, apprestrict: p.restrictApp, volume: p.volume ?? 1_000_000n }),
  );
  await publishOrder(writer(c), 'dataset', order);
  return { dataset, url: p.multiaddr ?? put.url, storedUrl: put.url, checksum: put.sha256 };
}

/** Requester: a result-encryption key pair; the public key pushed to the SMS. */
export async function setupResultKey(
  stack: Stack,
  p: { as?: string; dir: string },
): Promise<{ privateKeyFile: string; publicKeyFile: string }> {
  const requester = devAccountByName(p.as ?? 'requester');
  await fs.mkdir(p.dir, { recursive: true, mode: 0o700 });
  const keys = await generateResultKeys({
    out: join(p.dir, `result-${randomBytes(3).toString('hex')}`),
    bits: 2048,
  });
  const client = await sms(stack);
  const exists = await client.hasResultKey(requester.address);
  await client.pushResultKey(requester, keys.publicKeyPem, { update: exists });
  return { privateKeyFile: keys.privateKeyFile, publicKeyFile: keys.publicKeyFile };
}

export interface RunDemoParameters {
  onStep?: (s: DemoStep) => void;
  /** Key wrap of the result (default RSA-OAEP-SHA256). */
  resultKeyFormat?: ResultKeyFormat;
  timeoutMs?: number;
}

export interface RunDemoReturnType {
  steps: DemoStep[];
  app: Address;
  dataset: Address;
  taskId: Hex;
  result: string;
  resultFiles: string[];
  /** `task verify`'s report on the demo task (every link holds, or the demo fails). */
  verified: VerifyTaskReport;
}

/** The whole story, narrated: app, dataset, key, restricted order, task, decrypted result. */
export async function runDemo(stack: Stack, p: RunDemoParameters = {}): Promise<RunDemoReturnType> {
  const steps: DemoStep[] = [];
  const say = (step: string, detail: string) => {
    const s = { step, detail };
    steps.push(s);
    p.onStep?.(s);
  };
  const dir = join(stack.home, 'demo', `run-${Date.now()}-${randomBytes(3).toString('hex')}`);
  // The requester's private key and the decrypted result live here: 0700 (files 0600).
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const who = (n: string) => `${n} ${devAccountByName(n).address}`;
  say(
    'stack',
    `chain ${stack.chain.url} · SMS ${stack.sms.url} · storage ${stack.storage.url} · workerpool ${stack.workerpool} (owner ${stack.describe().scheduler})`,
  );
  say(
    'simulation',
    'SGX is SIMULATED on this host: attestation and sealing are real code paths, but there is no confidentiality against the host.',
  );

  // The image goes where the worker reads local app images; keys and the result stay in `dir`.
  const app = await deploySampleApp(stack, { dir: join(stack.appImageRoot, basename(dir)) });
  say(
    'app',
    `[${who('app-dev')}] built the sample app from a local busybox OCI image; MrEnclave ${app.mrenclave.slice(0, 16)}…`,
  );
  say(
    'app',
    `[app-dev] deployed app ${app.app} with fingerprint MrEnclave|FSPF_KEY|FSPF_TAG and published a TEE app order`,
  );

  const data = sampleDataset();
  const ds = await deploySampleDataset(stack, { data, restrictApp: app.app });
  say(
    'dataset',
    `[${who('dataset-owner')}] encrypted patients.csv (${data.length} bytes, AES-256-CBC), stored it at ${ds.url}`,
  );
  say(
    'dataset',
    `[dataset-owner] deployed dataset ${ds.dataset} (checksum ${ds.checksum.slice(0, 18)}…), pushed its key to the SMS`,
  );
  say(
    'dataset',
    `[dataset-owner] published a dataset order restricted to app ${app.app}: no other app can use it`,
  );

  const keys = await setupResultKey(stack, { dir });
  say(
    'requester',
    `[${who('requester')}] made an RSA key pair for result encryption and pushed the public key to the SMS`,
  );

  const run = await runApp({
    home: stack.home,
    chainUrl: stack.chain.url,
    as: 'requester',
    app: app.app,
    dataset: ds.dataset,
    workerpool: stack.workerpool,
    args: 'demo',
    encryptResult: true,
    ...(p.resultKeyFormat ? { resultKeyFormat: p.resultKeyFormat } : {}),
  });
  const taskId = run.taskIds[0]!;
  say('deal', `[requester] signed a request order; deal ${run.dealId} matched; task ${taskId}`);
  const final: TaskInfo = await watchTask({
    home: stack.home,
    chainUrl: stack.chain.url,
    taskId,
    timeoutMs: p.timeoutMs ?? 120_000,
    onChange: (i) => say('task', `task ${i.status}${i.worker ? ` (worker: ${i.worker.step})` : ''}`),
  });
  if (final.status !== 'COMPLETED')
    throw new SealworkError(
      'DEMO_TASK_FAILED',
      `The demo task did not complete: ${final.worker?.cause?.code ?? final.status}.`,
      {
        details: { taskId, cause: final.worker?.cause ?? null },
      },
    );
  say(
    'task',
    `[workerpool] the enclave's result is on chain: digest ${final.resultDigest}, at ${final.results?.location}`,
  );
  const dl = await downloadResult({
    home: stack.home,
    chainUrl: stack.chain.url,
    taskId,
    decrypt: true,
    keyFile: keys.privateKeyFile,
    out: join(dir, 'result'),
    onWarning: (w) => say('warning', w),
  });
  const resultFile = dl.files.find((f) => f.endsWith('result.txt'));
  const result = resultFile ? await fs.readFile(resultFile, 'utf8') : '';
  say('result', `[requester] downloaded and decrypted the result into ${dl.out}:`);
  for (const line of result.trimEnd().split('\n')) say('result', `    ${line}`);
  const verified = await verifyDemoTask(stack, taskId, keys.privateKeyFile, say);
  return { steps, app: app.app, dataset: ds.dataset, taskId, result, resultFiles: dl.files, verified };
}

/** The demo's last step: `sealwork task verify` on its task, every link narrated. */
async function verifyDemoTask(
  stack: Stack,
  taskId: Hex,
  keyFile: string,
  say: (step: string, detail: string) => void,
): Promise<VerifyTaskReport> {
  const report = await verifyTask({
    home: stack.home,
    chainUrl: stack.chain.url,
    taskId,
    as: 'requester',
    keyFile,
    allowSimulation: true,
  });
  say(
    'verify',
    `[requester] sealwork task verify ${taskId} --allow-simulation (receipt: ${report.receiptSource ?? 'none'})`,
  );
  for (const l of report.links)
    say('verify', `  ${l.ok ? 'PASS' : 'FAIL'} ${l.title}: ${l.detail}${l.simulated ? ' [simulated]' : ''}`);
  const refusal = verifyRefusal(report);
  if (refusal) throw refusal;
  say(
    'verify',
    `[requester] VERIFIED: the deal, the app's fingerprint and the dataset's restriction to it on chain; the SMS's signed receipt that it released the dataset key to that app's enclave (${report.links.find((l) => l.name === 'enclave-identity')?.actual ?? ''}) for this task's enclave challenge; that enclave's signature of the result on chain; and the stored result's digest.${report.simulated ? ' The platform is SIMULATED: these checks hold, but there is no confidentiality against the host.' : ''}`,
  );
  return report;
}
