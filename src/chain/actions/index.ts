/** The chain actions, one per file, viem-style: each takes a client (or a writer) first. */
// Reads
export { parseMrEnclave, readApp } from './readApp.js';
export { readDataset } from './readDataset.js';
export { readWorkerpool } from './readWorkerpool.js';
export { assetOwner } from './assetOwner.js';
export { isRegisteredApp } from './isRegisteredApp.js';
export { readDeal } from './readDeal.js';
export { readTask } from './readTask.js';
export { readConsumed } from './readConsumed.js';
export {
  type ListOrdersFilter,
  type ListOrdersOptions,
  type PublishedOrder,
  listOrders,
} from './listOrders.js';
export { type ReadSchedulerNoticesReturnType, readSchedulerNotices } from './readSchedulerNotices.js';
export { type ListDealsFilter, type MatchedDeal, listDeals } from './listDeals.js';
export { getBlockHash } from './getBlockHash.js';
export { getBlockTimestamp } from './getBlockTimestamp.js';
export { getChainTime } from './getChainTime.js';
export { getReceiptStatus } from './getReceiptStatus.js';
export { type TaskContribution, readTaskContribution } from './readTaskContribution.js';
export { type DealOrders, readDealOrders } from './readDealOrders.js';
// Writes
export { type SendOptions } from './internal/send.js';
export { deployContracts } from './deployContracts.js';
export { type CreateAppParameters, createApp } from './createApp.js';
export { type CreateDatasetParameters, createDataset } from './createDataset.js';
export { type CreateWorkerpoolParameters, createWorkerpool } from './createWorkerpool.js';
export { publishOrder } from './publishOrder.js';
export { cancelOrder } from './cancelOrder.js';
export { type MatchOrdersParameters, type MatchOrdersReturnType, matchOrders } from './matchOrders.js';
export { initializeTask } from './initializeTask.js';
export { type ContributeAndFinalizeParameters, contributeAndFinalize } from './contributeAndFinalize.js';
export { claimTask } from './claimTask.js';
