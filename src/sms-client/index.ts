/**
 * The SMS client: `createSmsClient(url, { ca, attest })` with every call as a method, each call
 * also a function of its own file, the one resolver of the SMS endpoint and of the SMS pin, and
 * the check of the SMS's attested TLS (verifySms.ts, with src/attestation). Imports src/protocol,
 * src/attestation, src/util and src/errors: the worker, the SDK and the CLI use it without
 * importing src/sms.
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
export { getAttestation } from './getAttestation.js';
export { AttestedSmsAgent, type SmsAttestOptions } from './attestedAgent.js';
export {
  verifySmsEvidence,
  verifySmsEvidenceSync,
  smsVerdictError,
  normalizePin,
  type SmsEvidence,
  type SmsPinPolicy,
  type SmsVerdict,
  type SmsCheck,
} from './verifySms.js';
export { resolveSmsPin, type ResolveSmsPinParameters, type ResolvedSmsPin } from './resolveSmsPin.js';
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
