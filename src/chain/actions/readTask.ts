import type { Address, Hex } from 'viem';
import { readContract } from 'viem/actions';
import { decodeChainError } from '../errors.js';
import { hubAbi } from '../generated/hub.js';
import type { ReadClient, Task, TaskStatus } from '../types.js';

/** A task (`viewTask`); a task not initialized (or no deal produced) reads as UNSET. */
export async function readTask(client: ReadClient, hub: Address, taskid: Hex): Promise<Task> {
  try {
    const t = await readContract(client, {
      address: hub,
      abi: hubAbi,
      functionName: 'viewTask',
      args: [taskid],
    });
    return { taskid, ...t, status: t.status as TaskStatus };
  } catch (e) {
    throw decodeChainError(e);
  }
}
