/**
 * The one-command local stack: embedded chain (anvil), SMS, content-addressed storage and a worker
 * for a dev workerpool, all under one $SEALWORK_HOME. `sealwork dev` runs it (and the demo).
 */
import { promises as fs, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createWalletClient, http, type Address, type LocalAccount } from 'viem';
import { openSimPlatform, type SimPlatform } from '../../attestation/index.js';
import {
  createChainClients,
  createWorkerpool,
  createWorkerpoolOrder,
  devAccountByName,
  listOrders,
  publishOrder,
  readWorkerpool,
  signOrder,
  TAG_TEE_TDX,
  type ChainClients,
} from '../../chain/index.js';
import { SealworkError } from '../../errors.js';
import { freePort, isProcessRunning } from '../../chain/anvil.js';
import { readEmbeddedRecord } from '../../chain/clients.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';
import { allowFetchHostsFromEnv, originRule } from '../../worker/egress.js';
import { startStorage, type StorageServer } from '../../worker/storage/server.js';
import { startMarket, type MarketServer } from '../../market/server.js';
import { startChain, stopChain } from '../chain/embedded.js';
import {
  assertNoWorkerRunning,
  startWorker,
  type RunningWorker,
  type WorkerEvent,
} from '../worker/worker.js';
import { silentLogger, startSms, type RunningSms } from '../../sms/index.js';

export interface StartStackParameters {
  home?: string;
  /** Use this chain instead of starting the embedded one (it must have a recorded deployment). */
  chainUrl?: string;
  /** Port of the embedded chain (default 8545, or a free port when 8545 is taken). */
  chainPort?: number;
  /** Notices for the user (e.g. the chain port chosen). */
  onInfo?: (message: string) => void;
  smsPort?: number;
  storagePort?: number;
  /** Worker slots (default 2). */
  slots?: number;
  /** Stop the embedded chain on `stop()` when this call started it (default true). */
  stopChainOnExit?: boolean;
  onEvent?: (e: WorkerEvent) => void;
  onStep?: (taskId: string, step: string) => void;
  /** Scheduler (workerpool owner) and worker wallets (default: dev accounts `workerpool` and `worker`). */
  scheduler?: LocalAccount;
  worker?: LocalAccount;
  taskTimeoutMs?: number;
  /** Gateway of the worker for `/ipfs/…` and `ipfs://…` locations (default https://ipfs.io). */
  ipfsGateway?: string;
  /** Start the in-process worker (default true; false to run `sealwork worker start` separately). */
  runWorker?: boolean;
  /**
   * The worker's folder of local app images (default `<home>/apps`, created): the demo builds its
   * app there, and local paths or `file://` images elsewhere are refused.
   */
  appImageRoot?: string;
  /** Let the worker run apps deployed with a zero checksum (default false: the demo deploys checksums). */
  allowZeroChecksum?: boolean;
  /**
   * Non-public hosts, addresses or ranges the worker's downloads may reach besides the stack's
   * own storage and IPFS gateway (always allowed): `host[:port]` or CIDR entries.
   */
  allowFetchHosts?: string[];
}

export interface Stack {
  home: string;
  chain: { url: string; startedHere: boolean; clients: ChainClients };
  sms: RunningSms & { cert: string; certPath: string };
  storage: StorageServer;
  /** iExec's market API subset over the hub (the iexec SDK's `iexecGatewayURL`). */
  market: MarketServer;
  platform: SimPlatform;
  workerpool: Address;
  /** Undefined when started with `worker: false`. */
  worker: RunningWorker | undefined;
  /** The worker's folder of local app images (put images deployed by path here). */
  appImageRoot: string;
  /** Write `<home>/stack.json` (URLs, certificate paths, workerpool) for other commands. */
  describe(): StackDescription;
  stop(): Promise<void>;
}

export interface StackDescription {
  chainUrl: string;
  hub: Address;
  smsUrl: string;
  smsCertPath: string;
  storageUrl: string;
  storageCertPath: string | undefined;
  /** The market API for the iexec SDK (`iexecGatewayURL`); `ipfsGatewayURL` is the storage URL. */
  marketUrl: string;
  workerpool: Address;
  scheduler: Address;
  worker: Address;
  /** The worker's folder of local app images. */
  appImageRoot: string;
  pid: number;
}

/** The dev workerpool of this home: reused when recorded and still on chain, else deployed with an open TEE order. */
export async function ensureDevWorkerpool(
  home: string,
  chainUrl: string,
  scheduler: LocalAccount,
): Promise<Address> {
  const file = join(home, 'worker', 'workerpool.json');
  const c = await createChainClientsFor(home, chainUrl, scheduler);
  const wallet = c;
  let workerpool: Address | undefined;
  try {
    const rec = JSON.parse(await fs.readFile(file, 'utf8')) as {
      workerpool?: Address;
      chainUrl?: string;
      hub?: string;
    };
    if (rec.workerpool && rec.hub?.toLowerCase() === c.deployment.hub.toLowerCase()) {
      const w = await readWorkerpool(c.publicClient, rec.workerpool).catch(() => undefined);
      if (w && w.owner.toLowerCase() === scheduler.address.toLowerCase()) workerpool = rec.workerpool;
    }
  } catch {
    /* none recorded */
  }
  if (!workerpool) {
    const r = await createWorkerpool(
      { publicClient: wallet.publicClient, walletClient: wallet.walletClient, deployment: wallet.deployment },
      { description: 'sealwork dev workerpool (simulated SGX)' },
    );
    workerpool = r.address;
    await writeFileAtomic(
      file,
      JSON.stringify({ workerpool, chainUrl, hub: c.deployment.hub, owner: scheduler.address }, null, 2),
      { force: true },
    );
  }
  // An open TEE order with volume left, or publish one. It offers TEE + TDX (0x…09) so that the
  // iexec SDK v9's requests (always tagged so) match it too; the worker runs them on simulated SGX.
  const open = await listOrders(c.publicClient, c.deployment, { kind: 'workerpool', workerpool });
  const offersSdkTag = (tag: string) => (BigInt(tag) & BigInt(TAG_TEE_TDX)) === BigInt(TAG_TEE_TDX);
  if (!open.some((o) => o.kind === 'workerpool' && o.remaining > 1000n && offersSdkTag(o.order.tag))) {
    const order = await signOrder(
      wallet.walletClient!,
      { chainId: wallet.deployment.chainId, hub: wallet.deployment.hub },
      'workerpool',
      createWorkerpoolOrder({ workerpool, tag: TAG_TEE_TDX, volume: 1_000_000n, category: 0n }),
    );
    await publishOrder(
      { publicClient: wallet.publicClient, walletClient: wallet.walletClient, deployment: wallet.deployment },
      'workerpool',
      order,
    );
  }
  return workerpool;
}

/** Chain clients for `home`'s deployment on `chainUrl`, signing with `account`. */
export async function createChainClientsFor(
  home: string,
  chainUrl: string,
  account: LocalAccount,
): Promise<ChainClients> {
  const c = await createChainClients({ home, chainUrl });
  return {
    ...c,
    account,
    walletClient: createWalletClient({
      chain: c.chain,
      transport: http(c.url),
      account,
      pollingInterval: 100,
    }),
  };
}

/** Is a TCP port free on 127.0.0.1 (nothing listens there)? */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Is the embedded chain recorded under `home` running (a live anvil process)? */
async function homeChainRunning(home: string): Promise<boolean> {
  const rec = await readEmbeddedRecord(home);
  if (!rec || !isProcessRunning(rec.pid)) return false;
  try {
    return readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').includes('anvil');
  } catch {
    return process.platform !== 'linux';
  }
}

export const DEFAULT_CHAIN_PORT = 8545;

/**
 * The port to start the embedded chain on. The home's running chain is reused as it is. Otherwise
 * the port must be free: another program there (often another home's chain) would otherwise answer
 * in our chain's place. A port asked for explicitly and taken is an error; the default 8545 taken
 * falls back to a free port.
 */
export async function chooseChainPort(
  home: string,
  port: number | undefined,
  onInfo?: (message: string) => void,
): Promise<number | undefined> {
  if (await homeChainRunning(home)) return port;
  const wanted = port ?? DEFAULT_CHAIN_PORT;
  if (await portFree(wanted)) return wanted;
  if (port !== undefined)
    throw new SealworkError(
      'CHAIN_PORT_IN_USE',
      `Cannot start the embedded chain on port ${port}: another program listens there.`,
      { hint: 'Stop that program, or choose another port with --chain-port <port>.', details: { port } },
    );
  const free = await freePort();
  onInfo?.(`port ${wanted} is in use by another program: the embedded chain uses port ${free} instead`);
  return free;
}

/** Start chain, SMS, storage and worker under `home`. */
export async function startStack(p: StartStackParameters = {}): Promise<Stack> {
  const home = resolveHome(p.home);
  await fs.mkdir(home, { recursive: true });
  // Before any service starts (their records under the home would be overwritten, then removed).
  if (p.runWorker !== false) await assertNoWorkerRunning(home);
  const cleanups: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  };
  try {
    let chainUrl = p.chainUrl;
    let startedHere = false;
    if (!chainUrl) {
      const port = await chooseChainPort(home, p.chainPort, p.onInfo);
      const c = await startChain({ home, ...(port !== undefined ? { port } : {}) });
      chainUrl = c.url;
      startedHere = !c.alreadyRunning;
      if (startedHere && p.stopChainOnExit !== false)
        cleanups.push(async () => void (await stopChain({ home })));
    }
    const clients = await createChainClients({ home, chainUrl });
    const platform = await openSimPlatform(home);
    const running = await startSms({
      home,
      chainUrl,
      port: p.smsPort ?? 0,
      allowSimulation: true,
      logger: silentLogger,
    });
    cleanups.push(() => running.close());
    const sms = Object.assign(running, {
      cert: running.cert ?? '',
      certPath: running.certPath ?? join(home, 'sms', 'tls', 'cert.pem'),
    });
    const storage = await startStorage({
      home,
      ...(p.storagePort !== undefined ? { port: p.storagePort } : {}),
    });
    cleanups.push(() => storage.close());
    // The market's wallet (the deployer dev account) only pays the gas of broadcasting orders
    // their owners signed.
    const marketWriter = await createChainClientsFor(home, chainUrl, devAccountByName('deployer'));
    const market = await startMarket({
      chainId: marketWriter.deployment.chainId,
      writer: {
        publicClient: marketWriter.publicClient,
        walletClient: marketWriter.walletClient,
        deployment: marketWriter.deployment,
      },
    });
    cleanups.push(() => market.close());
    const scheduler = p.scheduler ?? devAccountByName('workerpool');
    const workerAccount = p.worker ?? devAccountByName('worker');
    const workerpool = await ensureDevWorkerpool(home, chainUrl, scheduler);
    const appImageRoot = resolve(p.appImageRoot ?? join(home, 'apps'));
    await fs.mkdir(appImageRoot, { recursive: true });
    const worker =
      p.runWorker === false
        ? undefined
        : await startWorker({
            home,
            chainUrl,
            workerpool,
            scheduler,
            worker: workerAccount,
            smsUrl: sms.url,
            smsCa: sms.cert,
            storageUrl: storage.url,
            platform,
            slots: p.slots,
            onEvent: p.onEvent,
            onStep: p.onStep,
            taskTimeoutMs: p.taskTimeoutMs,
            ...(p.ipfsGateway ? { ipfsGateway: p.ipfsGateway } : {}),
            appImageRoot,
            // The stack's own services, which its flows fetch from (127.0.0.1: not public).
            allowFetchHosts: [
              originRule(storage.url),
              ...(p.ipfsGateway ? [originRule(p.ipfsGateway)] : []),
              ...(p.allowFetchHosts ?? allowFetchHostsFromEnv()),
            ],
            ...(p.allowZeroChecksum !== undefined ? { allowZeroChecksum: p.allowZeroChecksum } : {}),
          });
    if (worker) cleanups.push(() => worker.stop());
    const description: StackDescription = {
      chainUrl,
      hub: clients.deployment.hub,
      smsUrl: sms.url,
      smsCertPath: sms.certPath,
      storageUrl: storage.url,
      storageCertPath: storage.certPath,
      marketUrl: market.url,
      workerpool,
      scheduler: scheduler.address,
      worker: workerAccount.address,
      appImageRoot,
      pid: process.pid,
    };
    const stackFile = join(home, 'stack.json');
    await writeFileAtomic(stackFile, JSON.stringify(description, null, 2), { force: true });
    cleanups.push(() => fs.rm(stackFile, { force: true }));
    let stopped = false;
    return {
      home,
      chain: { url: chainUrl, startedHere, clients },
      sms,
      storage,
      market,
      platform,
      workerpool,
      worker,
      appImageRoot,
      describe: () => description,
      async stop() {
        if (stopped) return;
        stopped = true;
        await unwind();
      },
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}
