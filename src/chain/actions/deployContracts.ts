import { getAddress, type Abi, type Address, type Hex } from 'viem';
import { deployContract, getChainId, waitForTransactionReceipt } from 'viem/actions';
import { SealworkError } from '../../errors.js';
import type { Deployment } from '../deployment.js';
import { appRegistryAbi, appRegistryBytecode } from '../generated/appRegistry.js';
import { datasetRegistryAbi, datasetRegistryBytecode } from '../generated/datasetRegistry.js';
import { hubAbi, hubBytecode } from '../generated/hub.js';
import { workerpoolRegistryAbi, workerpoolRegistryBytecode } from '../generated/workerpoolRegistry.js';
import type { ReadClient, SignerClient } from '../types.js';

/** The deployed address and block of a contract creation transaction. */
async function deployed(
  publicClient: ReadClient,
  hash: Hex,
): Promise<{ address: Address; blockNumber: bigint }> {
  const receipt = await waitForTransactionReceipt(publicClient, { hash });
  if (receipt.status !== 'success' || !receipt.contractAddress)
    throw new SealworkError('DEPLOY_FAILED', 'A contract deployment transaction reverted.', {
      details: { tx: hash },
    });
  return { address: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}

/** Deploy the three registries and the hub with `walletClient`'s account. Does not record it. */
export async function deployContracts(
  walletClient: SignerClient,
  publicClient: ReadClient,
): Promise<Deployment> {
  const account = walletClient.account;
  if (!account)
    throw new SealworkError('WALLET_MISSING', 'Deploying contracts needs a wallet.', {
      hint: 'Set SEALWORK_PRIVATE_KEY or use a wallet.',
    });
  const chain = walletClient.chain ?? null;
  const deploy = async (c: { abi: Abi; bytecode: Hex; args?: readonly unknown[] }) =>
    deployed(publicClient, await deployContract(walletClient, { ...c, account, chain }));
  const apps = await deploy({ abi: appRegistryAbi, bytecode: appRegistryBytecode });
  const datasets = await deploy({ abi: datasetRegistryAbi, bytecode: datasetRegistryBytecode });
  const pools = await deploy({ abi: workerpoolRegistryAbi, bytecode: workerpoolRegistryBytecode });
  const hub = await deploy({
    abi: hubAbi,
    bytecode: hubBytecode,
    args: [apps.address, datasets.address, pools.address],
  });
  return {
    chainId: await getChainId(publicClient),
    hub: hub.address,
    appRegistry: apps.address,
    datasetRegistry: datasets.address,
    workerpoolRegistry: pools.address,
    deployer: account.address,
    blockNumber: Number(apps.blockNumber),
    deployedAt: new Date().toISOString(),
  };
}
