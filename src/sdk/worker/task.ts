/**
 * Tasks as a requester follows them: one task's on-chain fields with what this home's worker
 * journal knows of it (`sealwork task show`), and several tasks watched until they end.
 */
import type { Hex } from 'viem';
import type { FailureCause } from '../../worker/journal.js';
import type { ChainParameters } from '../chain/common.js';
import { showTask } from '../chain/deals.js';
import {
  checkStoredResult,
  localTaskRecord,
  parseTaskResults,
  watchTask,
  type ResultCheck,
  type TaskInfo,
} from './requester.js';

export type ShowTaskReturnType = Awaited<ReturnType<typeof showTask>>;

export interface ShowTaskWithJournalReturnType extends ShowTaskReturnType {
  /** The result location the worker wrote on chain (`{"storage","location"}`), parsed. */
  resultsLocation: string | null;
  resultsStorage: string | null;
  /** From this home's worker journal, when this home ran the worker that handled the task. */
  workerStep: string | null;
  workerAttempts: number | null;
  failureCause: FailureCause | null;
  /**
   * Whether the stored result matches the chain (content address, and the on-chain digest of the
   * plaintext result); null when the task has no result or `checkResult` is false.
   */
  resultCheck: ResultCheck | null;
}

/**
 * A task's on-chain fields (see `showTask`), its parsed result location and, when this home runs
 * the worker that handled it, the journal's step, enclave runs and failure cause.
 */
export async function showTaskWithJournal(
  p: ChainParameters & {
    taskid: string;
    /** Fetch the stored result and compare it with the chain (default true). */
    checkResult?: boolean;
    /** The beneficiary private key (PEM file): an encrypted result is then checked too. */
    keyFile?: string;
    /** PEM file of the storage certificate (default: the local storage's). */
    caFile?: string;
  },
): Promise<ShowTaskWithJournalReturnType> {
  const t = await showTask(p);
  const results = parseTaskResults(t.results);
  const local = await localTaskRecord({ home: p.home, taskId: t.taskid });
  const resultCheck =
    p.checkResult !== false && t.statusName === 'COMPLETED' && results?.location
      ? await checkStoredResult({
          ...p,
          taskId: t.taskid,
          location: results.location,
          resultDigest: t.resultDigest,
          ...(p.keyFile ? { keyFile: p.keyFile } : {}),
          ...(p.caFile ? { caFile: p.caFile } : {}),
        })
      : null;
  return {
    ...t,
    resultsLocation: results?.location ?? null,
    resultsStorage: results?.storage ?? null,
    workerStep: local?.step ?? null,
    workerAttempts: local?.attempts ?? null,
    failureCause: local?.cause ?? null,
    resultCheck,
  };
}

export interface WatchTasksParameters extends ChainParameters {
  taskIds: readonly Hex[];
  /** Per task (default 300 s). */
  timeoutMs?: number;
  pollMs?: number;
  onChange?: (taskId: Hex, info: TaskInfo) => void;
}

/** Watch tasks one after the other until each is COMPLETED or FAILED; their final states, in order. */
export async function watchTasks(p: WatchTasksParameters): Promise<TaskInfo[]> {
  const { taskIds, onChange, ...rest } = p;
  const finals: TaskInfo[] = [];
  for (const taskId of taskIds)
    finals.push(
      await watchTask({ ...rest, taskId, ...(onChange ? { onChange: (i) => onChange(taskId, i) } : {}) }),
    );
  return finals;
}
