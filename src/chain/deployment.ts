/**
 * Contract deployments: deploying the registries + hub, and recording their addresses per chain in
 * `$SEALWORK_HOME/chain/deployments.json` (keyed by chain URL, each entry carrying its chain id).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { getAddress, type Address, type Hex, type PublicClient, type WalletClient } from 'viem';
import { SealworkError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { appRegistryAbi, appRegistryBytecode } from './generated/appRegistry.js';
import { datasetRegistryAbi, datasetRegistryBytecode } from './generated/datasetRegistry.js';
import { hubAbi, hubBytecode } from './generated/hub.js';
import { workerpoolRegistryAbi, workerpoolRegistryBytecode } from './generated/workerpoolRegistry.js';

export interface Deployment {
  chainId: number;
  /** The marketplace/task contract (PoCo's "iexec proxy"): EIP-712 verifyingContract of orders. */
  hub: Address;
  appRegistry: Address;
  datasetRegistry: Address;
  workerpoolRegistry: Address;
  deployer: Address;
  /** Block of the hub deployment: where `order list` starts reading logs. */
  blockNumber: number;
  /** The JSON-RPC URL the deployment was recorded for (informational). */
  url?: string;
  deployedAt: string;
}

/** Folder of the chain state: `$SEALWORK_HOME/chain`. */
export function chainDir(home: string): string {
  return join(home, 'chain');
}

function deploymentsFile(home: string): string {
  return join(chainDir(home), 'deployments.json');
}

async function readAll(home: string): Promise<Deployment[]> {
  try {
    const j = JSON.parse(await fs.readFile(deploymentsFile(home), 'utf8')) as { deployments?: Deployment[] };
    return Array.isArray(j.deployments) ? j.deployments : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SealworkError('DEPLOYMENT_FILE_INVALID', `${deploymentsFile(home)} is not valid JSON.`, {
      hint: 'Remove it and run `sealwork chain deploy` again.',
      cause: e,
    });
  }
}

/** Record a deployment (replacing any previous one for the same URL + chain id). */
export async function saveDeployment(home: string, deployment: Deployment): Promise<void> {
  const all = (await readAll(home)).filter(
    (d) => !(d.chainId === deployment.chainId && d.url === deployment.url),
  );
  all.push(deployment);
  await writeFileAtomic(deploymentsFile(home), `${JSON.stringify({ deployments: all }, null, 2)}\n`, {
    force: true,
  });
}

/** Recorded deployments for a chain id (newest last). */
export async function listDeployments(home: string, chainId?: number): Promise<Deployment[]> {
  const all = await readAll(home);
  return chainId === undefined ? all : all.filter((d) => d.chainId === chainId);
}

/**
 * Find the deployment for a chain: the one recorded for this URL, else the newest one recorded
 * for the same chain id whose hub has code on this chain. Throws CHAIN_NOT_DEPLOYED.
 */
export async function findDeployment(
  home: string,
  url: string,
  publicClient: PublicClient,
): Promise<Deployment> {
  const chainId = await publicClient.getChainId();
  const candidates = (await listDeployments(home, chainId)).reverse();
  candidates.sort((a, b) => Number(b.url === url) - Number(a.url === url));
  for (const d of candidates) {
    const code = await publicClient.getCode({ address: d.hub });
    if (code && code !== '0x') return d;
  }
  throw new SealworkError(
    'CHAIN_NOT_DEPLOYED',
    `No sealwork contracts are recorded for the chain at ${url}.`,
    {
      hint: 'Run `sealwork chain deploy` (or `sealwork chain start` for the embedded chain).',
      details: { url, chainId },
    },
  );
}

async function deployOne(
  walletClient: WalletClient,
  publicClient: PublicClient,
  abi: readonly unknown[],
  bytecode: Hex,
  args: readonly unknown[],
): Promise<{ address: Address; blockNumber: bigint }> {
  const account = walletClient.account;
  if (!account)
    throw new SealworkError('WALLET_MISSING', 'Deploying contracts needs a wallet.', {
      hint: 'Set SEALWORK_PRIVATE_KEY or use a wallet.',
    });
  const hash = await walletClient.deployContract({
    abi: abi as never,
    bytecode,
    args: args as never,
    account,
    chain: walletClient.chain ?? null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress)
    throw new SealworkError('DEPLOY_FAILED', 'A contract deployment transaction reverted.', {
      details: { tx: hash },
    });
  return { address: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}

/** Deploy the three registries and the hub with `walletClient`'s account. Does not record it. */
export async function deployContracts(
  walletClient: WalletClient,
  publicClient: PublicClient,
): Promise<Deployment> {
  const apps = await deployOne(walletClient, publicClient, appRegistryAbi, appRegistryBytecode, []);
  const datasets = await deployOne(
    walletClient,
    publicClient,
    datasetRegistryAbi,
    datasetRegistryBytecode,
    [],
  );
  const pools = await deployOne(
    walletClient,
    publicClient,
    workerpoolRegistryAbi,
    workerpoolRegistryBytecode,
    [],
  );
  const hub = await deployOne(walletClient, publicClient, hubAbi, hubBytecode, [
    apps.address,
    datasets.address,
    pools.address,
  ]);
  return {
    chainId: await publicClient.getChainId(),
    hub: hub.address,
    appRegistry: apps.address,
    datasetRegistry: datasets.address,
    workerpoolRegistry: pools.address,
    deployer: walletClient.account!.address,
    blockNumber: Number(apps.blockNumber),
    deployedAt: new Date().toISOString(),
  };
}
