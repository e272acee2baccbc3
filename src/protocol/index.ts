/**
 * The iExec protocol rules that more than one side uses, each written once: the task id and
 * statuses, tag bits, the workerpool authorization, the result hash/seal, the SMS secret
 * challenges, the deal params, the app fingerprint, and the attested session (wire types and
 * crypto). Below chain/, sms/, sms-client/ and worker/; imports no domain folder.
 */
export {
  TaskStatus,
  TASK_STATUSES,
  type TaskStatusName,
  taskStatusName,
  computeDealId,
  computeTaskId,
} from './task.js';
export { TEE_TAG_BIT, TAG_TEE, TAG_TEE_TDX, TAG_NONE, isTeeTag } from './tag.js';
export { resultHash, resultSeal, enclaveMessage, signEnclaveResult } from './result.js';
export {
  type WorkerpoolAuthorization,
  workerpoolAuthorizationHash,
  authorizationMessage,
  signAuthorization,
  teeChallengeRequestHash,
} from './authorization.js';
export {
  SMS_DOMAIN,
  SMS_DOMAIN_STRING,
  RESULT_ENCRYPTION_KEY_NAME,
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  REQUESTER_SECRET_NAME,
  MAX_SECRET_BYTES,
  web3SecretChallenge,
  web2SecretChallenge,
  appSecretChallenge,
  requesterSecretChallenge,
  RECEIPT_READ_WINDOW_SECONDS,
  receiptReadChallenge,
} from './challenges.js';
export { type DealParams, type ResultKeyFormat, encodeDealParams, parseDealParams } from './deal-params.js';
export {
  type Fingerprint,
  type MrEnclave,
  type AppFingerprint,
  formatFingerprint,
  parseFingerprint,
  parseMrEnclave,
  parseAppMrEnclave,
} from './fingerprint.js';
export {
  type SessionPublicJwk,
  type SessionRequest,
  type SessionResponse,
  type SessionSecrets,
  sessionBinding,
} from './session.js';
export {
  type SessionKeyPair,
  generateSessionKeyPair,
  sessionPublicKeyBytes,
  sessionReportData,
  encryptToEnclave,
  decryptSessionJwe,
} from './session-crypto.js';
export {
  RECEIPT_TYPE,
  RECEIPT_VERSION,
  type ReceiptAlgorithm,
  type ReceiptSmsEvidence,
  type ReleaseReceipt,
  type ReleaseReceiptBody,
  type ReceiptSignatureCheck,
  canonicalJson,
  canonicalHash,
  receiptSigningBytes,
  quoteHash,
  receiptKeyId,
  spkiBase64,
  signReceipt,
  verifyReceiptSignature,
  receiptKeyMatchesCertificate,
  parseReceipt,
} from './receipt.js';
