/**
 * The TEE part of a task — what SCONE's runtime, pre-compute and post-compute do inside the
 * enclave (simulated here: see docs/worker.md, no confidentiality against the host):
 * enclave challenge + workerpool authorization, app image check and measurement, ephemeral key,
 * quote with REPORTDATA = sha256(publicKey ‖ nonce), SMS session, dataset and input files in
 * memory, app run with the FSPF key/tag from the SMS, post-compute, upload, enclave signature.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Address, Hex, LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { SimPlatform } from '../attestation/index.js';
import { collateralToJson } from '../attestation/index.js';
import { readApp, type Deal, type ReadClient } from '../chain/index.js';
import {
  describeTunnel,
  iexecEnv,
  measureApp,
  runEnclave,
  type MeasureAppReturnType,
} from '../enclave/index.js';
import { SealworkError, isSealworkError, type ErrorCode } from '../errors.js';
import {
  decryptSessionJwe,
  generateSessionKeyPair,
  parseAppMrEnclave,
  parseDealParams,
  sessionReportData,
  signAuthorization,
  signEnclaveResult,
  type ReleaseReceipt,
  type SessionSecrets,
} from '../protocol/index.js';
import type { SmsClient } from '../sms-client/index.js';
import { PUBLIC_ONLY, shieldAddressRule } from './egress.js';
import type { FetchOptions } from './fetch.js';
import { imageContentDigest, resolveAppImage, type AppImagePolicy } from './image.js';
import { computeResultDigest, encryptResult, readComputedJson } from './postcompute.js';
import { fetchDataset, fetchInputFiles, type DatasetPolicy, type InMemoryFile } from './precompute.js';
import { saveTaskLogs } from './logs.js';
import { putObject } from './storage/client.js';
import type { RunTeeTask } from './worker.js';
import { zipFolder } from './zip.js';

export { imageContentDigest, resolveAppImage } from './image.js';

export interface TeeRunnerOptions {
  home: string;
  /** Reads the app named by the deal. */
  publicClient: ReadClient;
  sms: SmsClient;
  scheduler: LocalAccount;
  /** The worker wallet: signs its session requests to the SMS (default: the scheduler). */
  worker?: LocalAccount;
  platform: SimPlatform;
  /** Where results are uploaded. */
  storage: { url: string; ca?: string[] };
  /** Downloads of images, datasets and input files (extra CAs, IPFS gateway, size limit). */
  fetch?: FetchOptions;
  /** Where app images may come from: image folder, size bound, zero checksums (image.ts). */
  images?: AppImagePolicy;
  /** Zero dataset checksums (refused unless `allowUnchecked`: precompute.ts). */
  datasets?: DatasetPolicy;
  /** App wall-clock limit (default 60 s). */
  taskTimeoutMs?: number;
  /** Progress notes for logs (never secret values). */
  onStep?: (taskId: Hex, step: string) => void;
}

/** Prefix of the worker's per-task output folders under `<home>/worker/tmp` (plaintext results). */
const SCRATCH_PREFIX = 'out-';

/**
 * Remove the per-task output folders a killed worker left under `<home>/worker/tmp`. Called with
 * the home's worker lock held: no other process writes there, so every such folder is stale.
 * Only real folders named `out-*` are removed (never through a link).
 */
export async function sweepWorkerScratch(home: string): Promise<number> {
  const dir = join(home, 'worker', 'tmp');
  let n = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const st = await fs.lstat(join(dir, name)).catch(() => null);
    if (!st?.isDirectory()) continue;
    await fs.rm(join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** iExec's environment for the app: task id, bag position, input files, dataset, secrets. */
function appEnv(
  s: SessionSecrets,
  deal: Deal,
  dataset: InMemoryFile | undefined,
  inputs: InMemoryFile[],
): Record<string, string> {
  const name = (f: InMemoryFile) => f.path.slice('/iexec_in/'.length);
  const requesterSecrets: Record<number, string> = {};
  for (const [k, v] of Object.entries(s.requesterSecrets)) requesterSecrets[Number(k)] = v;
  return {
    ...iexecEnv({
      taskId: s.task.id,
      ...(dataset ? { datasetFilename: name(dataset) } : {}),
      ...(s.app.developerSecret !== undefined ? { appDeveloperSecret: s.app.developerSecret } : {}),
      requesterSecrets,
      inputFiles: inputs.map(name),
      botSize: Number(deal.botSize),
      botFirstIndex: Number(deal.botFirst),
      botTaskIndex: s.task.index,
    }),
    IEXEC_INPUT_FILES_FOLDER: '/iexec_in',
    ...(s.dataset ? { IEXEC_DATASET_ADDRESS: s.dataset.address } : {}),
  };
}

/** Wrap a failure of one stage into a cause with a stable code (the original code when it has one). */
function stage<T>(code: ErrorCode, what: string, f: () => Promise<T>): Promise<T> {
  return f().catch((e: unknown) => {
    if (isSealworkError(e)) throw e;
    throw new SealworkError(code, `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  });
}

type TaskInput = Parameters<RunTeeTask>[0];
type TaskOutput = Awaited<ReturnType<RunTeeTask>>;
type Note = (s: string) => void;

/** 1. Enclave challenge from the SMS, and the scheduler's authorization of (worker, task, enclave). */
async function challengeAndAuthorize(o: TeeRunnerOptions, t: TaskInput, note: Note) {
  const enclaveChallenge = await stage('SMS_CHALLENGE_FAILED', 'enclave challenge', () =>
    o.sms.getEnclaveChallenge(o.scheduler, t.taskId),
  );
  const authorizationSign = await signAuthorization(o.scheduler, {
    worker: t.worker,
    taskid: t.taskId,
    enclaveChallenge,
  });
  note(`enclave challenge ${enclaveChallenge}`);
  return { enclaveChallenge, authorizationSign };
}

/**
 * The enclave refuses to attest an image whose identity is not the app's on-chain fingerprint
 * (MrEnclave|FSPF_KEY|FSPF_TAG): a tampered image never gets a secret.
 */
function checkFingerprint(
  app: { multiaddr: string; mrenclave: string },
  pointer: Address,
  identity: MeasureAppReturnType,
): void {
  const onChain = parseAppMrEnclave(app.mrenclave);
  if (!onChain)
    throw new SealworkError('APP_FINGERPRINT_INVALID', `App ${pointer} has no SCONE fingerprint on chain.`, {
      hint: 'Deploy the app with the mrenclave JSON printed by `sealwork app build`.',
    });
  const mismatched = (
    [
      ['MrEnclave', onChain.mrenclave, identity.mrenclave],
      ['FSPF key', onChain.fspfKey, identity.fspfKey],
      ['FSPF tag', onChain.fspfTag, identity.fspfTag],
    ] as const
  ).filter(([, want, got]) => want.toLowerCase() !== got.toLowerCase());
  if (mismatched.length)
    throw new SealworkError(
      'APP_IMAGE_TAMPERED',
      `The app image at ${app.multiaddr} does not match the app's on-chain fingerprint (${mismatched.map((m) => m[0]).join(', ')} differ): it changed after deployment; the enclave refuses to start.`,
      {
        details: Object.fromEntries(
          mismatched.map(([n, want, got]) => [n, { expected: want, measured: got }]),
        ),
      },
    );
}

/**
 * 2. The app image named on chain, checked against its checksum, measured, and held against the
 * on-chain fingerprint. Measuring unpacks and verifies every protected file; the result is cached
 * under a digest of every byte of the image, so any change to the image measures it again.
 */
async function measureAppImage(
  o: TeeRunnerOptions,
  measured: Map<string, MeasureAppReturnType>,
  deal: Deal,
  workDir: string,
  note: Note,
) {
  const app = await readApp(o.publicClient, deal.app.pointer);
  const image = await resolveAppImage(o.home, app.multiaddr, app.checksum, {
    ...o.images,
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  const contentKey = await imageContentDigest(image);
  let identity = measured.get(contentKey);
  if (!identity) {
    identity = await stage('APP_IMAGE_REFUSED', 'measuring the app image', () =>
      measureApp(image, { workDir }),
    );
    if (measured.size > 64) measured.clear();
    measured.set(contentKey, identity);
  }
  checkFingerprint(app, deal.app.pointer, identity);
  note(`measured MrEnclave ${identity.mrenclave} (matches the on-chain fingerprint)`);
  return { image, identity };
}

/** 3. Ephemeral session key, nonce, a quote binding both, and the SMS session's secrets. */
async function openSession(
  o: TeeRunnerOptions,
  t: TaskInput,
  identity: MeasureAppReturnType,
  auth: { enclaveChallenge: Address; authorizationSign: Hex },
  note: Note,
): Promise<{ secrets: SessionSecrets; receipt: ReleaseReceipt | undefined }> {
  const session = generateSessionKeyPair('P-256');
  const { nonce } = await o.sms.getNonce();
  const reportData = sessionReportData(session.publicJwk, nonce);
  const attributes = identity.config.debug ? '0700000000000000e700000000000000' : undefined;
  const q = await o.platform.quote({
    mrenclave: identity.mrenclave,
    reportData,
    ...(attributes ? { attributes } : {}),
  });
  const response = await o.sms.openSession(o.worker ?? o.scheduler, {
    authorization: {
      chainTaskId: t.taskId,
      dealId: t.deal.dealid,
      taskIndex: Number(t.index),
      workerWallet: t.worker,
      enclaveChallenge: auth.enclaveChallenge,
      signature: auth.authorizationSign,
    },
    quote: `0x${Buffer.from(q.quote).toString('hex')}`,
    collateral: collateralToJson(q.collateral),
    publicKey: session.publicJwk,
    nonce,
  });
  const secrets = await decryptSessionJwe<SessionSecrets>(response.jwe, session.privateKey);
  note(`session opened; released: ${response.released.join(', ')}`);
  return { secrets, receipt: response.receipt };
}

/** 4. Pre-compute: dataset and input files, in memory only. */
async function precompute(o: TeeRunnerOptions, secrets: SessionSecrets) {
  const dataset = secrets.dataset
    ? await fetchDataset(
        {
          address: secrets.dataset.address,
          url: secrets.dataset.url,
          checksum: secrets.dataset.checksum,
          key: secrets.dataset.key,
        },
        o.fetch,
        o.datasets,
      )
    : undefined;
  const inputs = await fetchInputFiles(secrets.task.inputFiles, o.fetch);
  return { dataset, inputs };
}

/** 5. Run the app with the FSPF key and tag released by the SMS; refuse anything but exit 0. */
async function runApp(
  o: TeeRunnerOptions,
  t: TaskInput,
  p: { image: string; secrets: SessionSecrets; outDir: string; workDir: string },
  files: { dataset: InMemoryFile | undefined; inputs: InMemoryFile[] },
  note: Note,
) {
  const { secrets } = p;
  const run = await runEnclave({
    image: p.image,
    fspfKey: secrets.app.fspfKey,
    fspfTag: secrets.app.fspfTag,
    ...(secrets.app.fsKey !== undefined ? { fsKey: secrets.app.fsKey } : {}),
    outDir: p.outDir,
    args: secrets.task.args,
    mrenclave: secrets.app.mrenclave,
    env: appEnv(secrets, t.deal, files.dataset, files.inputs),
    files: [...(files.dataset ? [files.dataset] : []), ...files.inputs].map((f) => ({
      path: f.path.slice('/iexec_in/'.length),
      data: f.data,
    })),
    timeoutMs: o.taskTimeoutMs ?? 60_000,
    workDir: p.workDir,
    network: { allowAddress: shieldAddressRule(o.fetch?.guard ?? PUBLIC_ONLY) },
    signal: t.signal,
  });
  for (const tun of run.network?.tunnels ?? []) note(describeTunnel(tun));
  // The requester reads these with `sealwork task logs` (served by logs.ts after a signed request).
  await saveTaskLogs(o.home, { taskId: t.taskId, requester: t.deal.requester }, run).catch(() => undefined);
  if (t.signal.aborted)
    throw new SealworkError('WORKER_STOPPING', 'The worker is stopping; the task resumes at restart.');
  if (run.timedOut)
    throw new SealworkError(
      'APP_TIMEOUT',
      `The app ran over its ${o.taskTimeoutMs ?? 60_000} ms limit and was stopped.`,
    );
  if (run.exitCode !== 0)
    throw new SealworkError('APP_EXIT_NONZERO', `The app exited with status ${run.exitCode}.`, {
      details: { exitCode: run.exitCode },
    });
  note('app finished (exit 0)');
  return { ...run, exitCode: 0 as const };
}

/**
 * The SMS's release receipt goes beside the result, as its own content-addressed object in the
 * same storage; its URL joins the result location in the task's `results` field. Not inside the
 * result archive: with `deterministic-output-path` = /iexec_out, iExec's folder digest covers
 * every top-level file, so an extra file there would change the digest the enclave signs (or
 * break the requester's digest check), and an encrypted result would hide it from a verifier
 * without the beneficiary key. The receipt is signed by the SMS, so the worker cannot forge it.
 */
async function publishReceipt(o: TeeRunnerOptions, receipt: ReleaseReceipt | undefined) {
  if (!receipt) return undefined;
  const data = Buffer.from(`${JSON.stringify(receipt, null, 2)}\n`, 'utf8');
  const put = await stage('RESULT_UPLOAD_FAILED', 'uploading the release receipt', () =>
    putObject({ url: o.storage.url, data, ca: o.storage.ca }),
  );
  return put.url;
}

/** 6. Post-compute: digest, zip, optional encryption, upload, enclave signature. */
async function postCompute(
  o: TeeRunnerOptions,
  t: TaskInput,
  p: {
    secrets: SessionSecrets;
    outDir: string;
    run: Awaited<ReturnType<typeof runApp>>;
    auth: { enclaveChallenge: Address; authorizationSign: Hex };
    receipt: ReleaseReceipt | undefined;
  },
  note: Note,
): Promise<TaskOutput> {
  const { secrets, outDir, run, auth } = p;
  // The bounds the sandbox enforced on /iexec_out: an output it let through is read in full.
  const bounds = { maxBytes: run.limits.resultBytes, maxEntries: run.limits.resultEntries };
  const computed = await readComputedJson(outDir);
  const digest = await computeResultDigest(outDir, computed, bounds);
  let zip = await zipFolder(outDir, bounds);
  const encrypted = secrets.task.resultEncryption;
  const params = parseDealParams(secrets.task.params);
  if (encrypted) {
    if (!secrets.resultEncryptionKey)
      throw new SealworkError(
        'RESULT_KEY_MISSING',
        'The deal asks for result encryption but no beneficiary key was released.',
      );
    zip = await encryptResult(zip, secrets.resultEncryptionKey, params.resultKeyFormat);
  }
  // `iexec_result_storage_provider: "ipfs"` (the iexec SDK's default): stored and recorded as
  // iExec does, `/ipfs/<UnixFS CID>`, served by the storage's gateway.
  const ipfs = params.storageProvider === 'ipfs';
  const put = await stage('RESULT_UPLOAD_FAILED', 'uploading the result', () =>
    putObject({ url: o.storage.url, data: zip, ca: o.storage.ca, ipfs }),
  );
  const results =
    ipfs && put.cid
      ? { storage: 'ipfs', location: `/ipfs/${put.cid}` }
      : { storage: 'sealwork', location: put.url };
  const enclaveAccount = privateKeyToAccount(secrets.enclaveChallenge.privateKey);
  if (enclaveAccount.address.toLowerCase() !== auth.enclaveChallenge.toLowerCase())
    throw new SealworkError(
      'ENCLAVE_CHALLENGE_MISMATCH',
      'The SMS released a challenge key for another enclave challenge.',
    );
  const enclaveSign = await signEnclaveResult(enclaveAccount, {
    worker: t.worker,
    taskid: t.taskId,
    resultDigest: digest,
  });
  note(`result uploaded to ${put.url}${ipfs && put.cid ? ` (${results.location})` : ''}`);
  const receipt = await publishReceipt(o, p.receipt);
  if (receipt) note(`release receipt published at ${receipt}`);
  return {
    digest,
    results: JSON.stringify({ ...results, ...(receipt ? { receipt } : {}) }),
    location: results.location,
    encrypted,
    enclaveChallenge: auth.enclaveChallenge,
    enclaveSign,
    authorizationSign: auth.authorizationSign,
    exitCode: run.exitCode,
  };
}

/** The TEE part of one task, in the protocol's order: steps 1 to 6 above. */
export function createTeeRunner(o: TeeRunnerOptions): RunTeeTask {
  const measured = new Map<string, MeasureAppReturnType>();
  return async (t) => {
    const note: Note = (s) => o.onStep?.(t.taskId, s);
    const auth = await challengeAndAuthorize(o, t, note);
    const workDir = join(o.home, 'worker', 'tmp');
    await fs.mkdir(workDir, { recursive: true });
    const { image, identity } = await measureAppImage(o, measured, t.deal, workDir, note);
    const { secrets, receipt } = await openSession(o, t, identity, auth, note);
    const files = await precompute(o, secrets);
    const outDir = await fs.mkdtemp(join(workDir, SCRATCH_PREFIX)); // 0700
    try {
      const run = await runApp(o, t, { image, secrets, outDir, workDir }, files, note);
      return await postCompute(o, t, { secrets, outDir, run, auth, receipt }, note);
    } finally {
      await fs.rm(outDir, { recursive: true, force: true });
    }
  };
}
