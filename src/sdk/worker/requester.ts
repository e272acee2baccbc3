/**
 * The requester's side: run an app (find published orders, sign the request, match the deal,
 * watch the task), show a task, download (and decrypt) a result.
 */
import { generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
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
import { SealworkError, fsError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';
import { connect, type ChainParameters } from '../chain/common.js';
import { fetchBytes } from '../../worker/fetch.js';
import { TaskJournal, type FailureCause } from '../../worker/journal.js';
import { decryptResult, isEncryptedResult, type ResultKeyFormat } from '../../worker/postcompute.js';
import { localStorageCa } from '../../worker/storage/client.js';
import { unzipEntries } from '../../worker/zip.js';

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
  /** `{"storage","location"}` as stored on chain. */
  results: { storage?: string; location?: string } | null;
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
  onWarning?: (message: string) => void;
}

export interface DownloadResultReturnType {
  location: string;
  out: string;
  files: string[];
  encrypted: boolean;
  decrypted: boolean;
  format?: ResultKeyFormat;
}

/** Download a completed task's result; with `decrypt`, decrypt it with the beneficiary key. */
export async function downloadResult(p: DownloadResultParameters): Promise<DownloadResultReturnType> {
  const caFile = p.caFile;
  const ca = caFile
    ? [
        await fs.readFile(caFile, 'utf8').catch((e: unknown) => {
          throw fsError(e, caFile, 'read');
        }),
      ]
    : p.ca;
  const info = await showTask(p);
  if (info.status !== 'COMPLETED' || !info.results?.location)
    throw new SealworkError('RESULT_NOT_AVAILABLE', `Task ${p.taskId} is ${info.status}: it has no result.`, {
      hint:
        info.status === 'ACTIVE' || info.status === 'UNSET'
          ? 'Wait for it to complete (`sealwork task show`).'
          : undefined,
    });
  const home = resolveHome(p.home);
  const location = info.results.location;
  // The location comes from the chain (written by the worker): never a path on this machine.
  const data = await fetchBytes(location, { ca: ca ?? (await localStorageCa(home)), fileRoot: false });
  const encrypted = await isEncryptedResult(data);
  let zip = data;
  let format: ResultKeyFormat | undefined;
  if (p.decrypt) {
    if (!encrypted)
      throw new SealworkError('RESULT_NOT_ENCRYPTED', `The result of task ${p.taskId} is not encrypted.`, {
        hint: 'Download it without --decrypt.',
      });
    if (!p.keyFile)
      throw new SealworkError('RESULT_KEY_REQUIRED', 'Decrypting needs the beneficiary private key.', {
        hint: 'Pass --key <private key PEM file>.',
      });
    let pem: string;
    try {
      pem = await fs.readFile(p.keyFile, 'utf8');
    } catch (e) {
      throw fsError(e, p.keyFile, 'read the key file');
    }
    const r = await decryptResult(data, pem, { onWarning: p.onWarning });
    zip = r.zip;
    format = r.format;
  }
  const out = resolve(p.out ?? p.taskId);
  const files: string[] = [];
  if (encrypted && !p.decrypt) {
    const target = join(out, 'result.zip');
    await writeFileAtomic(target, data, { force: p.force });
    files.push(target);
  } else {
    const entries = await unzipEntries(zip);
    for (const [name, content] of entries) {
      const target = join(out, ...name.split('/'));
      await writeFileAtomic(target, content, { force: p.force });
      files.push(target);
    }
  }
  return { location, out, files, encrypted, decrypted: Boolean(p.decrypt), ...(format ? { format } : {}) };
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
