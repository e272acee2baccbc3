/** Start a worker (scheduler + enclave runner) for one workerpool, as a library call. */
import { promises as fs, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Address, LocalAccount } from 'viem';
import { openSimPlatform, type SimPlatform } from '../../attestation/index.js';
import {
  chainWriterFor,
  createChainClients,
  createWorkerpoolOrder,
  isTeeTag,
  listOrders,
  publishOrder,
  readWorkerpool,
  resolveAccount,
  signOrder,
  TAG_TEE,
} from '../../chain/index.js';
import { SealworkError, fsError } from '../../errors.js';
import { isProcessRunning } from '../../chain/anvil.js';
import { createSmsClient, resolveSmsEndpoint, resolveSmsPin } from '../../sms-client/index.js';
import { resolveHome } from '../../util/home.js';
import { startLogsServer } from '../../worker/logs.js';
import { TaskJournal } from '../../worker/journal.js';
import { localStorageCa, readStorageEndpoint } from '../../worker/storage/client.js';
import { parseSize } from '../../enclave/util.js';
import { shmBase } from '../../enclave/build.js';
import { sweepStaleRuns } from '../../enclave/rundir.js';
import { allowFetchHostsFromEnv, fetchGuard, originRule, type FetchGuard } from '../../worker/egress.js';
import type { AppImagePolicy } from '../../worker/image.js';
import { createTeeRunner, sweepWorkerScratch } from '../../worker/tee.js';
import { Worker, type WorkerEvent } from '../../worker/worker.js';

export type { WorkerEvent };

export interface StartWorkerParameters {
  home?: string;
  chainUrl?: string;
  workerpool: Address;
  /** The workerpool owner (initializes tasks, signs authorizations). Default: the configured wallet. */
  scheduler?: LocalAccount;
  /** Private key or dev account name of the scheduler when `scheduler` is not given. */
  privateKey?: string;
  as?: string;
  /** The worker wallet (default: the scheduler). */
  worker?: LocalAccount;
  /** The SMS (default: the one `sms start` recorded under this home). */
  smsUrl?: string;
  /** The SMS the worker trusts (else SEALWORK_SMS_MRENCLAVE / _MRSIGNER, else the local SMS record). */
  smsMrenclave?: string | string[];
  smsMrsigner?: string | string[];
  smsAllowSimulation?: boolean;
  /** PEM file or text of the SMS certificate to trust (default: the recorded SMS's). */
  smsCa?: string;
  /** Result storage (default: the local storage started under this home). */
  storageUrl?: string;
  storageCa?: string[];
  /** Extra CAs for downloads (datasets, images, input files). */
  downloadCa?: string[];
  ipfsGateway?: string;
  /** Serve `file://` dataset and input-file URLs from under this folder only (default: refused). */
  fileRoot?: string;
  /**
   * Exceptions to the public-only rule of dataset, input-file and app-image downloads:
   * `host[:port]`, an address with an optional port, or a CIDR (default
   * `SEALWORK_ALLOW_FETCH_HOSTS`, comma-separated). The worker's own result storage and IPFS
   * gateway, which the operator chose, are always allowed.
   */
  allowFetchHosts?: string[];
  /**
   * Read app images given as local paths or `file://` URLs only under this folder (symlinks
   * resolved). Default: `SEALWORK_APP_IMAGE_ROOT`, else local app images are refused.
   */
  appImageRoot?: string;
  /** Largest app image accepted, downloaded or local (default `SEALWORK_MAX_APP_IMAGE_SIZE`, else 2 GiB). */
  maxImageBytes?: number;
  /**
   * Run apps deployed with a zero checksum, trusting the enclave fingerprint alone (default
   * `SEALWORK_ALLOW_ZERO_CHECKSUM=1`, else refused with `APP_IMAGE_CHECKSUM_ZERO`).
   */
  allowZeroChecksum?: boolean;
  /**
   * Run TEE datasets deployed with a zero checksum, unchecked (default
   * `SEALWORK_ALLOW_UNCHECKED_DATASETS=1`, else refused with `DATASET_CHECKSUM_ZERO`): AES-CBC has
   * no MAC, so an unchecked dataset is malleable.
   */
  allowUncheckedDatasets?: boolean;
  slots?: number;
  /** Publish an open TEE workerpool order of this volume when the workerpool has none. */
  publishOrderVolume?: number;
  pollMs?: number;
  taskTimeoutMs?: number;
  platform?: SimPlatform;
  onEvent?: (e: WorkerEvent) => void;
  onStep?: (taskId: string, step: string) => void;
  /** CA certificates (`*.crt`) of the registries app images are pulled from (default `SEALWORK_REGISTRY_CERT_DIR`). */
  registryCertDir?: string;
  /** Port of the logs API on 127.0.0.1 (`sealwork task logs`; default: any free port). */
  logsPort?: number;
}

export interface RunningWorker {
  worker: Worker;
  /** The logs API (HTTPS, self-signed certificate under `<home>/worker/api-tls`). */
  logsUrl: string;
  journal: TaskJournal;
  workerpool: Address;
  scheduler: Address;
  workerAddress: Address;
  stop(): Promise<void>;
}

/** Does `pid` run node (a worker, in `sealwork worker start` or `sealwork dev`)? Guards against a recycled pid. */
function isNodeProcess(pid: number): boolean {
  if (!isProcessRunning(pid)) return false;
  try {
    return /node|sealwork/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

/** Refuse when a live worker holds `<home>/worker/worker.pid` (checked before starting services). */
export async function assertNoWorkerRunning(home: string): Promise<void> {
  const file = join(home, 'worker', 'worker.pid');
  const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
  if (pid && isNodeProcess(pid))
    throw new SealworkError('WORKER_ALREADY_RUNNING', `A worker (pid ${pid}) already runs on this home.`, {
      hint: 'Stop it first (Ctrl-C), or run this one with another --home.',
      details: { pid, lockFile: file },
    });
}

/**
 * Take `<home>/worker/worker.pid` (created exclusively); a file left by a dead process is taken
 * over. Returns the release function.
 */
async function lockWorker(home: string): Promise<() => Promise<void>> {
  const file = join(home, 'worker', 'worker.pid');
  // The worker folder holds the journal (authorization signatures) and scratch results: 0700.
  await fs.mkdir(join(home, 'worker'), { recursive: true, mode: 0o700 });
  // Made earlier by another command (workerpool.json): best effort, the journal itself is 0600.
  await fs.chmod(join(home, 'worker'), 0o700).catch(() => undefined);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        const held = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
        if (held === String(process.pid)) await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, file, 'create');
    }
    await assertNoWorkerRunning(home);
    await fs.rm(file, { force: true }); // left by a process that is gone
  }
  throw new SealworkError('WORKER_LOCK_FAILED', `Cannot take the worker lock ${file}.`, {
    hint: 'Another worker is starting on this home; try again.',
  });
}

function checkCount(name: string, v: number | undefined, max: number, unit = ''): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= max))
    throw new SealworkError(
      'WORKER_OPTIONS_INVALID',
      `${name} must be a whole number from 1 to ${max}${unit}.`,
      {
        details: { value: String(v) },
      },
    );
}

/** Where app images may come from (`p`, else the `SEALWORK_*` environment); the folder must exist. */
export async function appImagePolicy(
  p: Pick<StartWorkerParameters, 'appImageRoot' | 'maxImageBytes' | 'allowZeroChecksum' | 'registryCertDir'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AppImagePolicy> {
  const rootGiven = p.appImageRoot ?? (env.SEALWORK_APP_IMAGE_ROOT || undefined);
  let root: string | false = false;
  if (rootGiven) {
    root = resolve(rootGiven);
    const st = await fs.stat(root).catch(() => null);
    if (!st?.isDirectory())
      throw new SealworkError('APP_IMAGE_ROOT_INVALID', `The app image folder ${root} is not a folder.`, {
        hint: 'Create it, or give another --app-image-root <dir> (SEALWORK_APP_IMAGE_ROOT).',
        details: { root },
      });
  }
  let maxBytes = p.maxImageBytes;
  if (maxBytes === undefined && env.SEALWORK_MAX_APP_IMAGE_SIZE)
    maxBytes = parseSize(env.SEALWORK_MAX_APP_IMAGE_SIZE, 'SEALWORK_MAX_APP_IMAGE_SIZE');
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0))
    throw new SealworkError(
      'WORKER_OPTIONS_INVALID',
      'The app image size bound must be a positive number of bytes.',
      {
        details: { value: String(maxBytes) },
      },
    );
  const allowZeroChecksum =
    p.allowZeroChecksum ?? /^(1|true|yes)$/i.test(env.SEALWORK_ALLOW_ZERO_CHECKSUM ?? '');
  const registryCertDir = p.registryCertDir ?? (env.SEALWORK_REGISTRY_CERT_DIR || undefined);
  return {
    root,
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    allowZeroChecksum,
    ...(registryCertDir ? { registryCertDir: resolve(registryCertDir) } : {}),
  };
}

/**
 * The address guard of the worker's downloads: public addresses, plus the operator's allowlist
 * (`p.allowFetchHosts`, else `SEALWORK_ALLOW_FETCH_HOSTS`), plus the origins the operator
 * configured (`operatorUrls`: the result storage, the IPFS gateway). Checked entry by entry
 * (`FETCH_ALLOWLIST_INVALID`).
 */
export function workerFetchGuard(
  p: Pick<StartWorkerParameters, 'allowFetchHosts'>,
  operatorUrls: (string | undefined)[] = [],
  env: NodeJS.ProcessEnv = process.env,
): FetchGuard {
  const own = operatorUrls.flatMap((u) => {
    if (!u) return [];
    try {
      return [originRule(u)];
    } catch {
      return [];
    }
  });
  return fetchGuard([...(p.allowFetchHosts ?? allowFetchHostsFromEnv(env)), ...own]);
}

/** `--publish-order`: an open TEE workerpool order of `volume`, unless one is still open. */
async function publishOpenOrder(
  clients: Awaited<ReturnType<typeof createChainClients>>,
  scheduler: LocalAccount,
  workerpool: Address,
  volume: number,
): Promise<void> {
  const open = await listOrders(clients.publicClient, clients.deployment, { kind: 'workerpool', workerpool });
  if (open.some((o) => o.kind === 'workerpool' && isTeeTag(o.order.tag) && o.remaining > 0n)) return;
  const writer = chainWriterFor(clients, scheduler);
  const domain = { chainId: clients.deployment.chainId, hub: clients.deployment.hub };
  const order = await signOrder(
    writer.walletClient,
    domain,
    'workerpool',
    createWorkerpoolOrder({ workerpool, tag: TAG_TEE, volume: BigInt(volume) }),
  );
  await publishOrder(writer, 'workerpool', order);
}

/** The result storage started under this home (`sealwork storage start`). */
async function localStorageUrl(home: string): Promise<string> {
  const ep = await readStorageEndpoint(home);
  if (!ep)
    throw new SealworkError('STORAGE_NOT_RUNNING', 'The worker needs a result storage.', {
      hint: 'Start one with `sealwork storage start`, or pass --storage-url.',
    });
  return ep.url;
}

export async function startWorker(p: StartWorkerParameters): Promise<RunningWorker> {
  checkCount('The number of slots (--slots)', p.slots, 64);
  const images = await appImagePolicy(p);
  // The operator's entries are checked before anything starts; the storage is added below.
  workerFetchGuard(p);
  checkCount('The task timeout (--task-timeout)', p.taskTimeoutMs, 24 * 3600 * 1000, ' ms');
  checkCount('The order volume (--publish-order)', p.publishOrderVolume, 1_000_000_000);
  const home = resolveHome(p.home);
  const clients = await createChainClients({ home, chainUrl: p.chainUrl });
  const scheduler = p.scheduler ?? (await resolveAccount({ home, privateKey: p.privateKey, as: p.as }));
  if (!scheduler)
    throw new SealworkError('WALLET_MISSING', 'The worker needs the workerpool owner wallet.', {
      hint: 'Set SEALWORK_PRIVATE_KEY to the workerpool owner key, or use --as workerpool on the embedded chain.',
    });
  const pool = await readWorkerpool(clients.publicClient, p.workerpool);
  if (pool.owner.toLowerCase() !== scheduler.address.toLowerCase())
    throw new SealworkError(
      'WORKERPOOL_NOT_OWNED',
      `Workerpool ${p.workerpool} is owned by ${pool.owner}, not by the configured wallet ${scheduler.address}.`,
      {
        hint: 'Run the worker with the workerpool owner wallet (SEALWORK_PRIVATE_KEY, or --as on the embedded chain).',
      },
    );
  if (p.publishOrderVolume) await publishOpenOrder(clients, scheduler, p.workerpool, p.publishOrderVolume);
  const storageUrl = p.storageUrl ?? (await localStorageUrl(home));
  const localCa = await localStorageCa(home);
  const storageCa = p.storageCa ?? localCa;
  const guard = workerFetchGuard(p, [storageUrl, p.ipfsGateway]);
  const smsEndpoint = await resolveSmsEndpoint({
    home,
    ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}),
    ...(p.smsCa ? { smsCa: p.smsCa } : {}),
  });
  // One worker per journal: two would race on the same tasks (initialize twice, fail each other's).
  const unlock = await lockWorker(home);
  let journal: TaskJournal | undefined;
  let platform: SimPlatform;
  try {
    // Held the lock: what a killed worker of this home left (plaintext results, run folders) goes.
    await sweepWorkerScratch(home);
    await sweepStaleRuns({ shm: await shmBase() });
    journal = TaskJournal.open(join(home, 'worker', 'journal.db'));
    platform = p.platform ?? (await openSimPlatform(home));
  } catch (e) {
    journal?.close();
    await unlock();
    throw e;
  }
  // The worker checks the SMS (attested TLS, pinned policy) before it sends anything to it.
  const sms = createSmsClient(smsEndpoint.url, {
    ...(smsEndpoint.ca ? { ca: smsEndpoint.ca } : {}),
    timeoutMs: 30_000,
    attest: await resolveSmsPin({
      home,
      url: smsEndpoint.url,
      ...(p.smsMrenclave ? { smsMrenclave: p.smsMrenclave } : {}),
      ...(p.smsMrsigner ? { smsMrsigner: p.smsMrsigner } : {}),
      ...(p.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
    }),
  });
  const runTee = createTeeRunner({
    home,
    publicClient: clients.publicClient,
    sms,
    scheduler,
    worker: p.worker ?? scheduler,
    platform,
    storage: { url: storageUrl, ca: storageCa },
    fetch: {
      ca: [...localCa, ...(p.downloadCa ?? [])],
      ...(p.ipfsGateway ? { ipfsGateway: p.ipfsGateway } : {}),
      fileRoot: p.fileRoot ? resolve(p.fileRoot) : false,
      guard,
    },
    images,
    datasets: {
      allowUnchecked:
        p.allowUncheckedDatasets ??
        /^(1|true|yes)$/i.test(process.env.SEALWORK_ALLOW_UNCHECKED_DATASETS ?? ''),
    },
    taskTimeoutMs: p.taskTimeoutMs,
    onStep: p.onStep,
  });
  const worker = new Worker({
    chain: clients,
    journal,
    workerpool: p.workerpool,
    scheduler,
    worker: p.worker ?? scheduler,
    runTee,
    slots: p.slots ?? 2,
    pollMs: p.pollMs ?? 200,
    onEvent: p.onEvent,
  });
  const logs = await startLogsServer({
    home,
    chainId: clients.deployment.chainId,
    ...(p.logsPort !== undefined ? { port: p.logsPort } : {}),
  }).catch(async (e: unknown) => {
    journal.close();
    await unlock();
    throw e;
  });
  worker.start();
  return {
    worker,
    journal,
    workerpool: p.workerpool,
    scheduler: scheduler.address,
    workerAddress: (p.worker ?? scheduler).address,
    logsUrl: logs.url,
    async stop() {
      await worker.stop();
      await logs.close();
      journal.close();
      await unlock();
    },
  };
}
