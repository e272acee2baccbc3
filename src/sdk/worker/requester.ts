/**
 * The requester's side: run an app (find published orders, sign the request, match the deal,
 * watch the task), show a task, download (and decrypt) a result.
 */
import { generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hexToString, isAddressEqual, zeroAddress, type Address, type Hex } from 'viem';
import {
  computeTaskId,
  createRequestOrder,
  isTeeTag,
  listOrders,
  matchOrders,
  orderFromJson,
  readDeal,
  readTask,
  signOrder,
  TAG_TEE,
  TaskStatus,
  type AppOrder,
  type ChainClients,
  type DatasetOrder,
  type RequestOrder,
  type WorkerpoolOrder,
} from '../../chain/index.js';
import { SealworkError, fsError, isSealworkError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';
import { connect, type ChainParameters } from '../chain/common.js';
import { fetchBytes } from '../../worker/fetch.js';
import { TaskJournal, type FailureCause } from '../../worker/journal.js';
import { decryptResult, isEncryptedResult, type ResultKeyFormat } from '../../worker/postcompute.js';
import { localStorageCa, readStorageEndpoint } from '../../worker/storage/client.js';
import {
  checkContentAddress,
  checkIpfsAddress,
  checkResultDigest,
  publishStaged,
  stagingFolder,
  writeResultEntries,
} from './result-verify.js';

import { encodeDealParams, taskStatusName, type TaskStatusName } from '../../protocol/index.js';

export type { TaskStatusName };

/** Chain access of a requester call: the same options as every chain SDK call. */
export type ChainAccess = ChainParameters;

async function clients(p: ChainAccess, requireWallet = false): Promise<ChainClients & { home: string }> {
  const home = resolveHome(p.home);
  const c = await connect({ ...p, home }, requireWallet);
  return { ...c, home };
}

async function readOrderFile<K extends 'app' | 'dataset' | 'workerpool'>(kind: K, path: string) {
  let j: unknown;
  try {
    j = JSON.parse(await fs.readFile(path, 'utf8'));
  } catch (e) {
    throw fsError(e, path, 'read the order file');
  }
  const o = j as { kind?: string; order?: unknown };
  if (o && typeof o === 'object' && 'order' in o) {
    if (o.kind && o.kind !== kind)
      throw new SealworkError('ORDER_KIND_MISMATCH', `${path} holds a ${o.kind} order, not a ${kind} order.`);
    return orderFromJson(kind, o.order);
  }
  return orderFromJson(kind, j);
}

const open = (restrict: Address, who: Address) =>
  isAddressEqual(restrict, zeroAddress) || isAddressEqual(restrict, who);
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

export interface RunAppParameters extends ChainAccess {
  app: Address;
  dataset?: Address;
  workerpool?: Address;
  /** `iexec_args`. */
  args?: string;
  /** Requester secrets by index: `{ "1": "name" }` (`iexec_secrets`). */
  secrets?: Record<string, string>;
  /** `iexec_input_files` URLs. */
  inputFiles?: string[];
  /** Ask for result encryption (`iexec_result_encryption`). */
  encryptResult?: boolean;
  /** Key wrap of the result key (default RSA-OAEP-SHA256; `iexec` for the iExec SDK format). */
  resultKeyFormat?: ResultKeyFormat;
  beneficiary?: Address;
  /** Orders from files instead of the on-chain market. */
  appOrderFile?: string;
  datasetOrderFile?: string;
  workerpoolOrderFile?: string;
  /** Tasks in the deal (default 1). */
  volume?: number;
  category?: number;
}

export interface RunAppReturnType {
  dealId: Hex;
  taskIds: Hex[];
  txHash: Hex;
  requestOrder: RequestOrder;
  orders: { app: Hex | 'file'; dataset: Hex | 'file' | null; workerpool: Hex | 'file' };
}

/** What the order search reads: the chain client and the deployment. */
interface Market {
  client: Parameters<typeof listOrders>[0];
  deployment: ChainClients['deployment'];
}

/** Where an order of the deal comes from: its hash in the on-chain market, or a file. */
type OrderRef = Hex | 'file';

/** The app order: from a file, or the market (TEE tag, restrictions open to this request). */
async function findAppOrder(
  market: Market,
  p: RunAppParameters,
  requester: Address,
  volume: bigint,
): Promise<{ order: AppOrder; ref: OrderRef }> {
  if (p.appOrderFile) return { order: await readOrderFile('app', p.appOrderFile), ref: 'file' };
  const all = await listOrders(market.client, market.deployment, { kind: 'app', app: p.app });
  const ok = all.filter(
    (o) =>
      o.kind === 'app' &&
      isTeeTag(o.order.tag) &&
      open(o.order.requesterrestrict, requester) &&
      (!p.dataset || open(o.order.datasetrestrict, p.dataset)) &&
      (!p.workerpool || open(o.order.workerpoolrestrict, p.workerpool)) &&
      o.remaining >= volume,
  );
  const first = ok[0];
  if (!first || first.kind !== 'app')
    throw new SealworkError(
      'APP_ORDER_NOT_FOUND',
      all.length
        ? `No published order of app ${p.app} is open to this request (TEE tag, restrictions, volume ${volume}).`
        : `App ${p.app} has no published order.`,
      {
        hint: 'The app owner publishes one with `sealwork order sign app … --tag tee` + `order publish`, or pass --app-order <file>.',
      },
    );
  return { order: first.order, ref: first.orderHash };
}

/**
 * The dataset order (none without a dataset): from a file, or the first market order open to this
 * request; when none is, the error says why each order was passed over.
 */
async function findDatasetOrder(
  market: Market,
  p: RunAppParameters,
  requester: Address,
  volume: bigint,
): Promise<{ order: DatasetOrder | undefined; ref: OrderRef | null }> {
  if (!p.dataset) return { order: undefined, ref: null };
  if (p.datasetOrderFile) return { order: await readOrderFile('dataset', p.datasetOrderFile), ref: 'file' };
  const all = (
    await listOrders(market.client, market.deployment, { kind: 'dataset', dataset: p.dataset })
  ).filter((o) => o.kind === 'dataset');
  const reasons: string[] = [];
  for (const o of all) {
    if (o.kind !== 'dataset') continue;
    const d = o.order;
    if (!open(d.apprestrict, p.app))
      reasons.push(
        `dataset order ${short(o.orderHash)} restricts apps to ${d.apprestrict}; this request uses app ${p.app}`,
      );
    else if (!open(d.requesterrestrict, requester))
      reasons.push(
        `dataset order ${short(o.orderHash)} restricts requesters to ${d.requesterrestrict}; you are ${requester}`,
      );
    else if (p.workerpool && !open(d.workerpoolrestrict, p.workerpool))
      reasons.push(`dataset order ${short(o.orderHash)} restricts workerpools to ${d.workerpoolrestrict}`);
    else if (o.remaining < volume)
      reasons.push(`dataset order ${short(o.orderHash)} has ${o.remaining} use(s) left`);
    else return { order: d, ref: o.orderHash };
  }
  throw new SealworkError(
    'DATASET_ORDER_NOT_FOUND',
    all.length
      ? `No order of dataset ${p.dataset} can be matched: ${reasons.join('; ')}.`
      : `Dataset ${p.dataset} has no published order.`,
    {
      hint: 'Only apps the dataset owner authorized can use this dataset; ask the owner for an order open to your app.',
      details: { dataset: p.dataset, app: p.app, reasons },
    },
  );
}

/** The workerpool order: from a file, or the first TEE market order open to this request. */
async function findWorkerpoolOrder(
  market: Market,
  p: RunAppParameters,
  requester: Address,
  volume: bigint,
): Promise<{ order: WorkerpoolOrder; ref: OrderRef }> {
  if (p.workerpoolOrderFile)
    return { order: await readOrderFile('workerpool', p.workerpoolOrderFile), ref: 'file' };
  const all = await listOrders(market.client, market.deployment, {
    kind: 'workerpool',
    ...(p.workerpool ? { workerpool: p.workerpool } : {}),
  });
  const ok = all.filter(
    (o) =>
      o.kind === 'workerpool' &&
      isTeeTag(o.order.tag) &&
      open(o.order.apprestrict, p.app) &&
      (!p.dataset || open(o.order.datasetrestrict, p.dataset)) &&
      open(o.order.requesterrestrict, requester) &&
      (p.category === undefined || o.order.category === BigInt(p.category)) &&
      o.remaining >= volume,
  );
  const first = ok[0];
  if (!first || first.kind !== 'workerpool')
    throw new SealworkError(
      'WORKERPOOL_ORDER_NOT_FOUND',
      `No published TEE workerpool order${p.workerpool ? ` of ${p.workerpool}` : ''} is open to this request.`,
      {
        hint: 'Start a worker (`sealwork worker start` or `sealwork dev`) whose owner publishes a workerpool order, or pass --workerpool-order <file>.',
      },
    );
  return { order: first.order, ref: first.orderHash };
}

/** The iExec request params (`iexec_args`, `iexec_secrets`, …) of a run, as JSON (src/protocol/deal-params.ts). */
function requestParams(p: RunAppParameters): string {
  return encodeDealParams({
    ...(p.args ? { args: p.args } : {}),
    ...(p.secrets ? { secrets: p.secrets } : {}),
    ...(p.inputFiles ? { inputFiles: p.inputFiles } : {}),
    resultEncryption: Boolean(p.encryptResult),
    ...(p.resultKeyFormat ? { resultKeyFormat: p.resultKeyFormat } : {}),
  });
}

/** Sign a request order for `app` (and dataset), find matching published orders, match the deal. */
export async function runApp(p: RunAppParameters): Promise<RunAppReturnType> {
  if (p.volume !== undefined && !(Number.isSafeInteger(p.volume) && p.volume >= 1))
    throw new SealworkError('VOLUME_INVALID', `The volume must be a whole number of tasks (1 or more).`, {
      hint: 'Give --volume as e.g. 1 or 100.',
      details: { volume: String(p.volume) },
    });
  const c = await clients(p, true);
  const requester = c.account!.address;
  const volume = BigInt(p.volume ?? 1);
  const market: Market = { client: c.publicClient, deployment: c.deployment };
  const app = await findAppOrder(market, p, requester, volume);
  const dataset = await findDatasetOrder(market, p, requester, volume);
  const wp = await findWorkerpoolOrder(market, p, requester, volume);
  // The request order, signed by the requester.
  const request = await signOrder(
    c.walletClient!,
    { chainId: c.deployment.chainId, hub: c.deployment.hub },
    'request',
    createRequestOrder({
      app: p.app,
      requester,
      dataset: p.dataset ?? zeroAddress,
      workerpool: wp.order.workerpool,
      volume,
      tag: TAG_TEE,
      category: wp.order.category,
      trust: 0n,
      beneficiary: p.beneficiary ?? requester,
      params: requestParams(p),
    }),
  );
  const m = await matchOrders(
    { publicClient: c.publicClient, walletClient: c.walletClient, deployment: c.deployment },
    {
      app: app.order,
      ...(dataset.order ? { dataset: dataset.order } : {}),
      workerpool: wp.order,
      request,
    },
  );
  const taskIds = Array.from({ length: Number(m.volume) }, (_, i) =>
    computeTaskId(m.dealid, m.botFirst + BigInt(i)),
  );
  return {
    dealId: m.dealid,
    taskIds,
    txHash: m.txHash,
    requestOrder: request,
    orders: { app: app.ref, dataset: dataset.ref, workerpool: wp.ref },
  };
}

export interface TaskInfo {
  taskId: Hex;
  status: TaskStatusName;
  dealId: Hex | null;
  index: number | null;
  app: Address | null;
  dataset: Address | null;
  beneficiary: Address | null;
  resultDigest: Hex | null;
  /** `{"storage","location"}` as stored on chain (`receipt`: where the worker published the SMS's release receipt). */
  results: { storage?: string; location?: string; receipt?: string } | null;
  finalDeadline: number | null;
  /** From the local worker journal, when this home runs the worker that handled the task. */
  worker: { step: string; cause: FailureCause | null } | null;
}

/** The `results` bytes of a task on chain (`{"storage","location"}` JSON), parsed; null when empty. */
export function parseTaskResults(results: Hex): TaskInfo['results'] {
  if (!results || results === '0x') return null;
  const text = hexToString(results);
  try {
    const j = JSON.parse(text) as unknown;
    if (j && typeof j === 'object' && !Array.isArray(j)) return j as TaskInfo['results'];
  } catch {
    /* not JSON: a bare location */
  }
  return { location: text };
}

export interface LocalTaskRecord {
  step: string;
  attempts: number;
  cause: FailureCause | null;
  updatedAt: number;
}

/** What the worker journal of this home knows of a task (null when this home ran no worker for it). */
export async function localTaskRecord(p: { home?: string; taskId: string }): Promise<LocalTaskRecord | null> {
  const jp = join(resolveHome(p.home), 'worker', 'journal.db');
  if (!(await fs.stat(jp).catch(() => undefined))) return null;
  const j = TaskJournal.open(jp);
  try {
    const r = j.get(p.taskId);
    return r ? { step: r.step, attempts: r.attempts, cause: r.cause ?? null, updatedAt: r.updatedAt } : null;
  } finally {
    j.close();
  }
}

/** Status, result location and (from a local worker journal) failure cause of a task. */
export async function showTask(p: ChainAccess & { taskId: Hex; dealId?: Hex }): Promise<TaskInfo> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(p.taskId))
    throw new SealworkError('TASK_ID_INVALID', `${p.taskId} is not a task id (0x + 64 hex characters).`);
  const c = await clients(p);
  const t = await readTask(c.publicClient, c.deployment.hub, p.taskId);
  const status = taskStatusName(t.status);
  const dealId = t.status === TaskStatus.UNSET ? (p.dealId ?? null) : t.dealid;
  const deal = dealId
    ? await readDeal(c.publicClient, c.deployment.hub, dealId).catch(() => undefined)
    : undefined;
  const results = parseTaskResults(t.results);
  const local = await localTaskRecord({ home: c.home, taskId: p.taskId });
  const worker: TaskInfo['worker'] = local ? { step: local.step, cause: local.cause } : null;
  return {
    taskId: p.taskId,
    status,
    dealId,
    index: t.status === TaskStatus.UNSET ? null : Number(t.idx),
    app: deal?.app.pointer ?? null,
    dataset: deal && !isAddressEqual(deal.dataset.pointer, zeroAddress) ? deal.dataset.pointer : null,
    beneficiary: deal?.beneficiary ?? null,
    resultDigest: t.status === TaskStatus.COMPLETED ? t.resultDigest : null,
    results,
    finalDeadline: t.status === TaskStatus.UNSET ? null : Number(t.finalDeadline),
    worker,
  };
}

export interface WatchTaskParameters extends ChainAccess {
  taskId: Hex;
  dealId?: Hex;
  timeoutMs?: number;
  pollMs?: number;
  onChange?: (info: TaskInfo) => void;
}

/** Poll a task until COMPLETED or FAILED (or the local worker records a failure). */
export async function watchTask(p: WatchTaskParameters): Promise<TaskInfo> {
  if (p.timeoutMs !== undefined && !(p.timeoutMs > 0))
    throw new SealworkError(
      'WATCH_TIMEOUT_INVALID',
      'The watch timeout must be a positive number of seconds.',
      {
        hint: 'Give --timeout as e.g. 300.',
      },
    );
  const end = Date.now() + (p.timeoutMs ?? 300_000);
  let last = '';
  while (true) {
    const info = await showTask(p);
    const key = `${info.status}|${info.worker?.step ?? ''}`;
    if (key !== last) {
      last = key;
      p.onChange?.(info);
    }
    if (info.status === 'COMPLETED' || info.status === 'FAILED') return info;
    if (info.worker && (info.worker.step === 'failed' || info.worker.step === 'claimed')) return info;
    if (Date.now() > end)
      throw new SealworkError(
        'TASK_WATCH_TIMEOUT',
        `Task ${p.taskId} is still ${info.status} after the watch timeout.`,
        {
          hint: 'Check that a worker serves this workerpool (`sealwork worker start`), then `sealwork task show`.',
        },
      );
    await new Promise((r) => setTimeout(r, p.pollMs ?? 250));
  }
}

export interface DownloadResultParameters extends ChainAccess {
  taskId: Hex;
  /** Decrypt with the beneficiary's RSA private key (PEM file). */
  decrypt?: boolean;
  keyFile?: string;
  /** Folder to write the result files into (default ./<taskid>). */
  out?: string;
  force?: boolean;
  /** Extra CA certificates for the storage (default: the local storage's). */
  ca?: string[];
  /** A PEM file of the storage certificate to trust, instead of `ca` (read before anything else). */
  caFile?: string;
  /** IPFS gateway for `/ipfs/<cid>` results (default: the local storage, which serves them). */
  ipfsGateway?: string;
  onWarning?: (message: string) => void;
}

export interface DownloadResultReturnType {
  location: string;
  out: string;
  files: string[];
  encrypted: boolean;
  decrypted: boolean;
  format?: ResultKeyFormat;
  /** The bytes matched the sha256 of their content-addressed location (false: not content-addressed). */
  contentAddressChecked: boolean;
  /** The plaintext result has the task's on-chain `resultDigest` (false: left encrypted, not checked). */
  digestChecked: boolean;
}

async function readCa(p: { caFile?: string; ca?: string[] }): Promise<string[] | undefined> {
  const caFile = p.caFile;
  return caFile
    ? [
        await fs.readFile(caFile, 'utf8').catch((e: unknown) => {
          throw fsError(e, caFile, 'read');
        }),
      ]
    : p.ca;
}

async function readKeyFile(keyFile: string | undefined): Promise<string> {
  if (!keyFile)
    throw new SealworkError('RESULT_KEY_REQUIRED', 'Decrypting needs the beneficiary private key.', {
      hint: 'Pass --key <private key PEM file>.',
    });
  try {
    return await fs.readFile(keyFile, 'utf8');
  } catch (e) {
    throw fsError(e, keyFile, 'read the key file');
  }
}

/**
 * Fetch a result from its on-chain location and check it against its content address, if it has
 * one: the sha256 of a storage URL, or the UnixFS CID of an `/ipfs/<cid>` location (fetched
 * through `ipfsGateway`, by default the local storage's gateway).
 */
async function fetchResult(
  location: string,
  home: string,
  ca: string[] | undefined,
  ipfsGateway?: string,
): Promise<{ data: Buffer; contentAddressed: boolean }> {
  const gateway = ipfsGateway ?? (await readStorageEndpoint(home))?.url;
  // The location comes from the chain (written by the worker): never a path on this machine.
  const data = await fetchBytes(location, {
    ca: ca ?? (await localStorageCa(home)),
    fileRoot: false,
    ...(gateway ? { ipfsGateway: gateway } : {}),
  });
  if (await checkIpfsAddress(location, data)) return { data, contentAddressed: true };
  return { data, contentAddressed: checkContentAddress(location, data) };
}

/**
 * Download a completed task's result; with `decrypt`, decrypt it with the beneficiary key. The
 * bytes are checked against a content-addressed location, and a plaintext result (decrypted, or
 * never encrypted) against the task's on-chain `resultDigest` in a private staging folder beside
 * `out`, moved to `out` only once verified: on `RESULT_CONTENT_MISMATCH` or
 * `RESULT_DIGEST_MISMATCH` nothing is written. Files are 0600, created folders 0700.
 */
export async function downloadResult(p: DownloadResultParameters): Promise<DownloadResultReturnType> {
  const ca = await readCa(p);
  const info = await showTask(p);
  if (info.status !== 'COMPLETED' || !info.results?.location || !info.resultDigest)
    throw new SealworkError('RESULT_NOT_AVAILABLE', `Task ${p.taskId} is ${info.status}: it has no result.`, {
      hint:
        info.status === 'ACTIVE' || info.status === 'UNSET'
          ? 'Wait for it to complete (`sealwork task show`).'
          : undefined,
    });
  const home = resolveHome(p.home);
  const location = info.results.location;
  const { data, contentAddressed } = await fetchResult(location, home, ca, p.ipfsGateway);
  const encrypted = await isEncryptedResult(data);
  let zip = data;
  let format: ResultKeyFormat | undefined;
  if (p.decrypt) {
    if (!encrypted)
      throw new SealworkError('RESULT_NOT_ENCRYPTED', `The result of task ${p.taskId} is not encrypted.`, {
        hint: 'Download it without --decrypt.',
      });
    const pem = await readKeyFile(p.keyFile);
    const r = await decryptResult(data, pem, { onWarning: p.onWarning });
    zip = r.zip;
    format = r.format;
  }
  const out = resolve(p.out ?? p.taskId);
  const base = {
    location,
    out,
    encrypted,
    decrypted: Boolean(p.decrypt),
    ...(format ? { format } : {}),
    contentAddressChecked: contentAddressed,
  };
  if (encrypted && !p.decrypt) {
    // Ciphertext: its digest cannot be checked without the key (`task show --key` can).
    const target = join(out, 'result.zip');
    await fs.mkdir(out, { recursive: true, mode: 0o700 });
    await writeFileAtomic(target, data, { force: p.force, mode: 0o600 });
    return { ...base, files: [target], digestChecked: false };
  }
  const stage = await stagingFolder(out);
  try {
    await writeResultEntries(zip, stage);
    await checkResultDigest(stage, info.resultDigest, p.taskId);
    const files = await publishStaged(stage, out, Boolean(p.force));
    return { ...base, files, digestChecked: true };
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

export type ResultCheckStatus = 'match' | 'mismatch' | 'unverified' | 'unavailable';

/** Whether the stored result of a task matches the chain (`task show`). */
export interface ResultCheck {
  /**
   * `match`: the plaintext result has the on-chain digest (and its content address, if any);
   * `mismatch`: it does not (`code` says which check failed); `unverified`: encrypted and no key
   * given (only the content address was checked); `unavailable`: it cannot be fetched or decrypted.
   */
  status: ResultCheckStatus;
  contentAddress: 'match' | 'mismatch' | 'not-content-addressed' | null;
  digest: 'match' | 'mismatch' | 'encrypted' | null;
  code: string | null;
  message: string;
}

/**
 * Fetch a task's stored result and compare it with the chain, writing nothing but a private
 * temporary folder (removed). An encrypted result is decrypted (in memory) when `keyFile` is given.
 */
export async function checkStoredResult(
  p: ChainAccess & {
    taskId: Hex;
    location: string;
    resultDigest: Hex;
    keyFile?: string;
    ca?: string[];
    caFile?: string;
    ipfsGateway?: string;
  },
): Promise<ResultCheck> {
  const home = resolveHome(p.home);
  let contentAddressed: boolean;
  let data: Buffer;
  try {
    ({ data, contentAddressed } = await fetchResult(p.location, home, await readCa(p), p.ipfsGateway));
  } catch (e) {
    if (isSealworkError(e, 'RESULT_CONTENT_MISMATCH'))
      return {
        status: 'mismatch',
        contentAddress: 'mismatch',
        digest: null,
        code: e.code,
        message: e.message,
      };
    return {
      status: 'unavailable',
      contentAddress: null,
      digest: null,
      code: isSealworkError(e) ? e.code : null,
      message: `the result cannot be fetched: ${(e as Error).message}`,
    };
  }
  const ca = contentAddressed ? 'match' : 'not-content-addressed';
  let zip = data;
  try {
    if (await isEncryptedResult(data)) {
      if (!p.keyFile)
        return {
          status: 'unverified',
          contentAddress: ca,
          digest: 'encrypted',
          code: null,
          message: contentAddressed
            ? 'encrypted: its bytes match their content address; give the beneficiary key (--key) to check the digest'
            : 'encrypted and not content-addressed: give the beneficiary key (--key) to check the digest',
        };
      zip = (await decryptResult(data, await readKeyFile(p.keyFile))).zip;
    }
  } catch (e) {
    return {
      status: 'unavailable',
      contentAddress: ca,
      digest: null,
      code: isSealworkError(e) ? e.code : null,
      message: `the result cannot be decrypted: ${(e as Error).message}`,
    };
  }
  const stage = await fs.mkdtemp(join(tmpdir(), 'sealwork-result-check-'));
  try {
    await writeResultEntries(zip, stage);
    await checkResultDigest(stage, p.resultDigest, p.taskId);
    return {
      status: 'match',
      contentAddress: ca,
      digest: 'match',
      code: null,
      message: 'the stored result has the on-chain digest',
    };
  } catch (e) {
    if (!isSealworkError(e)) throw e;
    return {
      status: 'mismatch',
      contentAddress: ca,
      digest: 'mismatch',
      code: e.code,
      message: e.message,
    };
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

/** A beneficiary RSA key pair (3072 bits) for result encryption: private key 0600, public key PEM. */
export async function generateResultKeys(p: { out: string; force?: boolean; bits?: number }): Promise<{
  privateKeyFile: string;
  publicKeyFile: string;
  publicKeyPem: string;
}> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: p.bits ?? 3072,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const base = resolve(p.out);
  const privateKeyFile = `${base}.key`;
  const publicKeyFile = `${base}.pub`;
  await writeFileAtomic(privateKeyFile, privateKey, { force: p.force, mode: 0o600 });
  await writeFileAtomic(publicKeyFile, publicKey, { force: p.force });
  return { privateKeyFile, publicKeyFile, publicKeyPem: publicKey };
}
