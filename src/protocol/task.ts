/**
 * Tasks in PoCo v5: the task id formula and the task statuses (`IexecLibCore_v5.TaskStatusEnum`).
 * `‖` is abi.encodePacked.
 *
 *   dealid = keccak256(requestOrderHash ‖ uint256 consumedBefore)
 *   taskid = keccak256(dealid ‖ uint256 index)
 */
import { encodePacked, keccak256, type Hex } from 'viem';

/** The task statuses, by their on-chain number: the one list every side reads. */
export enum TaskStatus {
  UNSET = 0,
  ACTIVE = 1,
  REVEALING = 2,
  COMPLETED = 3,
  FAILED = 4,
}

export type TaskStatusName = keyof typeof TaskStatus;

/** The status names in on-chain order. */
export const TASK_STATUSES: readonly TaskStatusName[] = Object.keys(TaskStatus).filter((k) =>
  Number.isNaN(Number(k)),
) as TaskStatusName[];

/** The name of an on-chain status number; `UNSET` for a number PoCo does not define. */
export function taskStatusName(status: number | bigint): TaskStatusName {
  return TASK_STATUSES[Number(status)] ?? 'UNSET';
}

/** dealid = keccak256(abi.encodePacked(requestOrderHash, consumedBefore)) (PoCo v5). */
export function computeDealId(requestOrderHash: Hex, consumedBefore: bigint): Hex {
  return keccak256(encodePacked(['bytes32', 'uint256'], [requestOrderHash, consumedBefore]));
}

/** taskid = keccak256(abi.encodePacked(dealid, uint256 index)) (PoCo v5). */
export function computeTaskId(dealid: Hex, index: bigint | number): Hex {
  return keccak256(encodePacked(['bytes32', 'uint256'], [dealid, BigInt(index)]));
}
