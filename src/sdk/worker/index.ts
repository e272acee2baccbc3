/** SDK of the worker domain: storage, worker, requester flow, local stack and demo. */
export {
  parseSize as parseStorageSize,
  startStorageService,
  storagePut,
  type PutObjectReturnType,
  type StartStorageServiceParameters,
  type StorageServer,
} from './storage.js';
export {
  downloadResult,
  generateResultKeys,
  localTaskRecord,
  parseTaskResults,
  runApp,
  showTask as showTaskDetails,
  watchTask,
  type DownloadResultParameters,
  type DownloadResultReturnType,
  type LocalTaskRecord,
  type RunAppParameters,
  type RunAppReturnType,
  type TaskInfo,
  type WatchTaskParameters,
} from './requester.js';
export {
  showTaskWithJournal,
  watchTasks,
  type ShowTaskWithJournalReturnType,
  type WatchTasksParameters,
} from './task.js';
export type { FailureCause } from '../../worker/journal.js';
export { startWorker, type RunningWorker, type StartWorkerParameters, type WorkerEvent } from './worker.js';
export { startStack, type Stack, type StackDescription, type StartStackParameters } from '../stack/index.js';
export { runDemo, type RunDemoParameters, type RunDemoReturnType } from '../stack/demo.js';
export {
  computeResultDigest,
  decryptResult,
  encryptResult,
  readComputedJson,
  type ComputedJson,
  type ResultKeyFormat,
} from '../../worker/postcompute.js';
export { DEFAULT_MAX_RESULT_BYTES, type OutputLimits } from '../../enclave/output-folder.js';
