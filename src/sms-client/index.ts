/**
 * The SMS client: `createSmsClient(url, { ca })` with every call as a method, each call also a
 * function of its own file, and the one resolver of the SMS endpoint. Imports only src/protocol,
 * src/util and src/errors: the worker, the SDK and the CLI use it without importing src/sms.
 */
export { createSmsClient, type SmsClient } from './createSmsClient.js';
export {
  createTransport,
  smsFailure,
  isTlsTrustError,
  type SmsClientOptions,
  type SmsHttpResponse,
  type SmsTransport,
  type Signer,
} from './transport.js';
export { health } from './health.js';
export { hasDatasetSecret } from './hasDatasetSecret.js';
export { pushDatasetSecret } from './pushDatasetSecret.js';
export { hasWeb2Secret } from './hasWeb2Secret.js';
export { pushWeb2Secret } from './pushWeb2Secret.js';
export { hasResultKey } from './hasResultKey.js';
export { pushResultKey } from './pushResultKey.js';
export { hasAppSecret } from './hasAppSecret.js';
export { pushAppSecret } from './pushAppSecret.js';
export { hasAppFsKey } from './hasAppFsKey.js';
export { pushAppFsKey } from './pushAppFsKey.js';
export { hasRequesterSecret } from './hasRequesterSecret.js';
export { pushRequesterSecret } from './pushRequesterSecret.js';
export { getEnclaveChallenge } from './getEnclaveChallenge.js';
export { getNonce } from './getNonce.js';
export { openSession } from './openSession.js';
export { getReceipt } from './getReceipt.js';
export {
  resolveSmsEndpoint,
  type ResolveSmsEndpointParameters,
  type SmsEndpoint,
} from './resolveSmsEndpoint.js';
export { readSmsRecord, smsRecordPath, type SmsRecord } from './smsRecord.js';
