/** The embedded chain: anvil on 127.0.0.1 with state under $SEALWORK_HOME/chain, plus deployments anywhere. */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  getAddress,
  http,
  isAddress,
  parseEther,
  type Address,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { getBalance } from 'viem/actions';
import { isProcessRunning, spawnAnvil, stopProcess, waitForRpc } from '../../chain/anvil.js';
import {
  DEV_CHAIN_ID,
  chainFor,
  embeddedRecordPath,
  readEmbeddedRecord,
  resolveAccount,
  resolveChainUrl,
  type EmbeddedChainRecord,
} from '../../chain/clients.js';
import { deployContracts } from '../../chain/actions/index.js';
import { chainDir, findDeployment, saveDeployment, type Deployment } from '../../chain/deployment.js';
import { decodeChainError } from '../../chain/errors.js';
import { devAccount } from '../../chain/wallet.js';
import { SealworkError, isSealworkError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';
import type { ChainParameters } from './common.js';

export interface StartChainParameters {
  home?: string;
  /** Port on 127.0.0.1 (default 8545). */
  port?: number;
}

export interface StartChainReturnType {
  url: string;
  port: number;
  pid: number;
  chainId: number;
  alreadyRunning: boolean;
  /** True when the contracts were deployed by this start (first start). */
  deployed: boolean;
  deployment: Deployment;
  statePath: string;
  logFile: string;
}

/** Is `pid` an anvil process (guards against a recycled pid)? */
function isAnvil(pid: number): boolean {
  if (!isProcessRunning(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('anvil');
  } catch {
    return process.platform !== 'linux';
  }
}

async function running(home: string): Promise<EmbeddedChainRecord | undefined> {
  const rec = await readEmbeddedRecord(home);
  if (!rec || !isAnvil(rec.pid)) return undefined;
  try {
    await waitForRpc(rec.url, 2000);
    return rec;
  } catch {
    return undefined;
  }
}

function clients(url: string) {
  const chain = chainFor(DEV_CHAIN_ID, url);
  const publicClient = createPublicClient({
    chain,
    transport: http(url),
    pollingInterval: 100,
  });
  const walletClient = createWalletClient({
    chain,
    transport: http(url),
    account: privateKeyToAccount(devAccount(0).privateKey),
    pollingInterval: 100,
  });
  return { publicClient, walletClient };
}

/** Start the embedded chain (detached anvil); deploys the contracts on first start. */
export async function startChain(p: StartChainParameters = {}): Promise<StartChainReturnType> {
  if (p.port !== undefined && !(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535))
    throw new SealworkError('CHAIN_PORT_INVALID', `--port ${p.port} is not a TCP port.`, {
      hint: 'Give an integer from 1 to 65535 (default 8545).',
    });
  const home = resolveHome(p.home);
  const dir = chainDir(home);
  await fs.mkdir(dir, { recursive: true });
  const statePath = join(dir, 'anvil-state.json');
  const logFile = join(dir, 'anvil.log');
  let rec = await running(home);
  const alreadyRunning = Boolean(rec);
  if (rec && p.port !== undefined && rec.port !== p.port)
    throw new SealworkError('CHAIN_ALREADY_RUNNING', `The embedded chain already runs on port ${rec.port}.`, {
      hint: 'Stop it first with `sealwork chain stop`.',
    });
  if (!rec) {
    const port = p.port ?? 8545;
    const anvil = await spawnAnvil({ port, statePath, detached: true, logFile });
    rec = { url: anvil.url, port, pid: anvil.pid, statePath, startedAt: new Date().toISOString() };
    await writeFileAtomic(embeddedRecordPath(home), `${JSON.stringify(rec, null, 2)}\n`, { force: true });
    await writeFileAtomic(join(dir, 'anvil.pid'), `${anvil.pid}\n`, { force: true });
  }
  const { publicClient, walletClient } = clients(rec.url);
  let deployment: Deployment;
  let deployed = false;
  try {
    deployment = await findDeployment(home, rec.url, publicClient);
  } catch (e) {
    if (!isSealworkError(e, 'CHAIN_NOT_DEPLOYED')) throw e;
    try {
      deployment = { ...(await deployContracts(walletClient, publicClient)), url: rec.url };
    } catch (err) {
      throw decodeChainError(err);
    }
    await saveDeployment(home, deployment);
    deployed = true;
  }
  return { ...rec, chainId: DEV_CHAIN_ID, alreadyRunning, deployed, deployment, logFile };
}

/** Stop the embedded chain (SIGTERM: anvil writes its state, kept for the next start). */
export async function stopChain(p: { home?: string } = {}): Promise<{ stopped: boolean; pid?: number }> {
  const home = resolveHome(p.home);
  const rec = await readEmbeddedRecord(home);
  await fs.rm(join(chainDir(home), 'anvil.pid'), { force: true });
  if (!rec || !isAnvil(rec.pid)) return { stopped: false };
  await stopProcess(rec.pid);
  return { stopped: true, pid: rec.pid };
}

export interface ChainStatusReturnType {
  url: string;
  reachable: boolean;
  embedded: boolean;
  pid?: number;
  chainId?: number;
  blockNumber?: bigint;
  deployment?: Deployment;
}

/** Where the configured chain is, whether it answers, and its deployment. */
export async function chainStatus(
  p: { home?: string; chainUrl?: string } = {},
): Promise<ChainStatusReturnType> {
  const home = resolveHome(p.home);
  const url = await resolveChainUrl(home, p.chainUrl);
  const rec = await readEmbeddedRecord(home);
  const embedded = rec?.url === url;
  const base: ChainStatusReturnType = {
    url,
    reachable: false,
    embedded,
    ...(embedded && rec && isAnvil(rec.pid) ? { pid: rec.pid } : {}),
  };
  let chainId: number;
  try {
    chainId = await waitForRpc(url, 1500);
  } catch {
    return base;
  }
  const publicClient = createPublicClient({
    chain: chainFor(chainId, url),
    transport: http(url),
  });
  const blockNumber = await publicClient.getBlockNumber();
  let deployment: Deployment | undefined;
  try {
    deployment = await findDeployment(home, url, publicClient);
  } catch (e) {
    if (!isSealworkError(e, 'CHAIN_NOT_DEPLOYED')) throw e;
  }
  return { ...base, reachable: true, chainId, blockNumber, deployment };
}

/** Deploy the contracts on the configured chain with the configured wallet and record the deployment. */
export async function deployChain(p: ChainParameters = {}): Promise<Deployment> {
  const home = resolveHome(p.home);
  const url = await resolveChainUrl(home, p.chainUrl);
  const chainId = await waitForRpc(url, 5000);
  const chain = chainFor(chainId, url);
  if (p.as && chainId !== DEV_CHAIN_ID)
    throw new SealworkError(
      'DEV_ACCOUNT_NOT_ALLOWED',
      `Named dev accounts exist only on a local dev chain (id ${DEV_CHAIN_ID}).`,
    );
  const account =
    (await resolveAccount({
      home,
      privateKey: p.privateKey,
      as: p.as,
      password: p.password,
      promptPassword: p.promptPassword,
    })) ?? (chainId === DEV_CHAIN_ID ? privateKeyToAccount(devAccount(0).privateKey) : undefined);
  if (!account)
    throw new SealworkError('WALLET_MISSING', 'Deploying the contracts needs a funded wallet.', {
      hint: 'Set SEALWORK_PRIVATE_KEY or create a wallet with `sealwork wallet create`.',
    });
  const publicClient = createPublicClient({
    chain,
    transport: http(url),
    pollingInterval: 200,
  });
  const walletClient = createWalletClient({ chain, transport: http(url), account, pollingInterval: 200 });
  let deployment: Deployment;
  try {
    deployment = { ...(await deployContracts(walletClient, publicClient)), url };
  } catch (e) {
    throw decodeChainError(e);
  }
  await saveDeployment(home, deployment);
  return deployment;
}

/** Set an account's ETH balance on a local dev chain (anvil_setBalance): for wallets made with `wallet create`. */
export async function fundAccount(p: {
  home?: string;
  chainUrl?: string;
  address: string;
  eth?: number;
}): Promise<{ address: Address; balance: bigint }> {
  const eth = p.eth ?? 100;
  if (!Number.isFinite(eth) || eth < 0)
    throw new SealworkError('AMOUNT_INVALID', `--eth ${p.eth} is not an amount of ETH.`, {
      hint: 'Give a non-negative number, e.g. --eth 5 or --eth 0.5.',
    });
  const home = resolveHome(p.home);
  const url = await resolveChainUrl(home, p.chainUrl);
  const chainId = await waitForRpc(url, 5000);
  if (chainId !== DEV_CHAIN_ID)
    throw new SealworkError(
      'DEV_CHAIN_ONLY',
      `Funding is possible only on a local dev chain (id ${DEV_CHAIN_ID}).`,
      {
        hint: 'On a real network, send ETH to the wallet from another account.',
        details: { chainId },
      },
    );
  if (!isAddress(p.address, { strict: false }))
    throw new SealworkError('ADDRESS_INVALID', `${p.address} is not an address.`);
  const address = getAddress(p.address);
  const balance = parseEther(eth.toFixed(18).replace(/\.?0+$/, ''));
  const anvil = createTestClient({ mode: 'anvil', chain: chainFor(chainId, url), transport: http(url) });
  await anvil.setBalance({ address, value: balance });
  return { address, balance: await getBalance(anvil, { address }) };
}
