import { decodeFunctionData, type Address, type Hex } from 'viem';
import { getContractEvents, getTransaction } from 'viem/actions';
import { SealworkError } from '../../errors.js';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { ReadClient } from '../types.js';

/** What the worker sent in `contributeAndFinalize` for a task, read back from its transaction. */
export interface TaskContribution {
  txHash: Hex;
  blockNumber: bigint;
  /** The wallet that sent it (the worker). */
  worker: Address;
  resultDigest: Hex;
  results: Hex;
  enclaveChallenge: Address;
  enclaveSign: Hex;
  authorizationSign: Hex;
}

/**
 * The enclave challenge and signatures a task was finalized with: the hub keeps the result but not
 * these, so they are read from the calldata of the transaction that emitted the task's
 * `TaskFinalize` event (searched from `fromBlock`, e.g. the deployment's block). Undefined when the
 * task was never finalized; TASK_CONTRIBUTION_UNREADABLE when that transaction is not a direct
 * `contributeAndFinalize` call.
 */
export async function readTaskContribution(
  client: ReadClient,
  hub: Address,
  taskid: Hex,
  o: { fromBlock?: bigint } = {},
): Promise<TaskContribution | undefined> {
  let tx;
  let log;
  try {
    const logs = await getContractEvents(client, {
      address: hub,
      abi: hubAbi,
      eventName: 'TaskFinalize',
      args: { taskid },
      fromBlock: o.fromBlock ?? 0n,
      toBlock: 'latest',
    });
    log = logs[logs.length - 1];
    if (!log?.transactionHash) return undefined;
    tx = await getTransaction(client, { hash: log.transactionHash });
  } catch (e) {
    throw decodeChainError(e);
  }
  let decoded;
  try {
    decoded = decodeFunctionData({ abi: hubAbi, data: tx.input });
  } catch {
    decoded = undefined;
  }
  if (
    decoded?.functionName !== 'contributeAndFinalize' ||
    decoded.args[0].toLowerCase() !== taskid.toLowerCase()
  )
    throw new SealworkError(
      'TASK_CONTRIBUTION_UNREADABLE',
      `Transaction ${tx.hash} finalized task ${taskid} but is not a direct contributeAndFinalize call: its enclave challenge cannot be read.`,
      { details: { txHash: tx.hash } },
    );
  const [, resultDigest, results, , enclaveChallenge, enclaveSign, authorizationSign] = decoded.args;
  return {
    txHash: tx.hash,
    blockNumber: log.blockNumber ?? 0n,
    worker: tx.from,
    resultDigest,
    results,
    enclaveChallenge,
    enclaveSign,
    authorizationSign,
  };
}
