/**
 * `sealwork task logs`: the requester asks the worker for its task's stdout/stderr with an EIP-712
 * signature (logs can carry data: only the task's requester reads them). Both sides build the
 * typed data here.
 */
import type { Address, Hex } from 'viem';

/** A request is accepted this long around the worker's clock (seconds). */
export const TASK_LOGS_MAX_SKEW_S = 300;

export interface TaskLogsRequest {
  taskId: Hex;
  requester: Address;
  /** Unix seconds when the requester signed. */
  issuedAt: number;
}

/** The EIP-712 typed data the requester signs. */
export function taskLogsTypedData(chainId: number, r: TaskLogsRequest) {
  return {
    domain: { name: 'sealwork-worker', version: '1', chainId },
    types: {
      TaskLogsRequest: [
        { name: 'taskId', type: 'bytes32' },
        { name: 'requester', type: 'address' },
        { name: 'issuedAt', type: 'uint256' },
      ],
    },
    primaryType: 'TaskLogsRequest' as const,
    message: { taskId: r.taskId, requester: r.requester, issuedAt: BigInt(r.issuedAt) },
  };
}
