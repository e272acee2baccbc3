/**
 * The Chain domain of sealwork: contracts shaped like iExec PoCo v5 (registries, EIP-712 orders,
 * deals, tasks) and the functions other domains (SMS, worker, SDK) call.
 *
 * - Deployments: `deployContracts`, `saveDeployment`, `loadDeployment`, `findDeployment`.
 * - Clients: `createChainClients({ home, chainUrl?, privateKey?, as? })` → viem clients + deployment.
 * - Actions (actions/, one per file, viem-style: a client or a writer first, typed with viem's
 *   generic `Client`, so any public, wallet or test client fits):
 *   - reads: `readApp`, `readDataset`, `readWorkerpool`, `readDeal`, `readTask`, `readConsumed`,
 *     `assetOwner`, `isRegisteredApp`, `listOrders` (the market), `readSchedulerNotices`,
 *     `getBlockHash`, `getChainTime`, `getReceiptStatus`;
 *   - writes (simulated first, one nonce-ordered sender per account): `deployContracts`,
 *     `createApp`, `createDataset`, `createWorkerpool`, `publishOrder`, `cancelOrder`,
 *     `matchOrders`, `initializeTask`, `contributeAndFinalize`, `claimTask`.
 * - Reader (reader/): `createChainReader`, the reads of a read-only service (the SMS), with task
 *   status over a raw batched `eth_call` transport; `cachedChainReader` caches what is immutable.
 * - Orders: typed structs, `hashOrder`, `signOrder`, `computeDealId`, `computeTaskId`.
 * - iExec formulas: `resultHash`, `resultSeal`, `enclaveMessage`, `authorizationMessage`,
 *   `signAuthorization`, `signEnclaveResult`.
 * - Errors: `decodeChainError` turns every custom error into a SealworkError with a stable code.
 */
export { type Deployment, saveDeployment, listDeployments, findDeployment, chainDir } from './deployment.js';
export {
  type ChainClients,
  type CreateChainClientsParameters,
  type ResolveAccountParameters,
  type EmbeddedChainRecord,
  DEV_CHAIN_ID,
  createChainClients,
  loadDeployment,
  resolveChainUrl,
  resolveAccount,
  readEmbeddedRecord,
  embeddedRecordPath,
  chainFor,
  chainWriterFor,
} from './clients.js';
export {
  type ReadClient,
  type SignerClient,
  type ChainWriter,
  type TxResult,
  TaskStatus,
  type TaskStatusName,
  type MrEnclave,
  type AppInfo,
  type DatasetInfo,
  type WorkerpoolInfo,
  type Resource,
  type Deal,
  type Task,
  taskStatusName,
} from './types.js';
export * from './actions/index.js';
export * from './reader/index.js';
export {
  type OrderKind,
  type AppOrder,
  type DatasetOrder,
  type WorkerpoolOrder,
  type RequestOrder,
  type OrderByKind,
  type AnyOrder,
  type SignedOrderFile,
  ORDER_KINDS,
  ORDER_TYPES,
  PRIMARY_TYPE,
  TAG_TEE,
  TAG_TEE_TDX,
  TAG_NONE,
  orderDomain,
  toTag,
  isTeeTag,
  hashOrder,
  signOrder,
  computeDealId,
  computeTaskId,
  createAppOrder,
  createDatasetOrder,
  createWorkerpoolOrder,
  createRequestOrder,
  emptyDatasetOrder,
  orderToJson,
  orderFromJson,
} from './orders.js';
export {
  resultHash,
  resultSeal,
  enclaveMessage,
  authorizationMessage,
  signAuthorization,
  signEnclaveResult,
} from '../protocol/index.js';
export {
  chainErrorsAbi,
  CHAIN_ERROR_MESSAGES,
  decodeChainError,
  decodeRevertData,
  isChainUnavailable,
} from './errors.js';
export {
  type KeystoreV3,
  type DevAccountName,
  ANVIL_MNEMONIC,
  DEV_ACCOUNT_NAMES,
  devAccount,
  devAccountByName,
  encryptKeystore,
  decryptKeystore,
  keystorePath,
} from './wallet.js';
export {
  type AnvilProcess,
  type SpawnAnvilOptions,
  spawnAnvil,
  freePort,
  waitForRpc,
  anvilBinary,
} from './anvil.js';
export { hubAbi } from './generated/hub.js';
export { appRegistryAbi } from './generated/appRegistry.js';
export { datasetRegistryAbi } from './generated/datasetRegistry.js';
export { workerpoolRegistryAbi } from './generated/workerpoolRegistry.js';
export { appAbi } from './generated/app.js';
export { datasetAbi } from './generated/dataset.js';
export { workerpoolAbi } from './generated/workerpool.js';
