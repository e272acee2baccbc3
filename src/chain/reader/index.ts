export {
  type ChainReader,
  type ChainReaderStats,
  type ChainTaskInfo,
  type ChainDealInfo,
  type ChainAppInfo,
  type ChainDatasetInfo,
} from './types.js';
export { cachedChainReader } from './cachedChainReader.js';
export {
  type CreateChainReaderParameters,
  createChainReader,
  chainReaderFromClient,
  batchedClient,
} from './createChainReader.js';
export { type TaskReader, rawTaskReader, decodeTaskHead, VIEW_TASK_SELECTOR } from './rawTaskTransport.js';
