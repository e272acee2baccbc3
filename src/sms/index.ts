/**
 * The Secret Management Service of sealwork: iExec's SMS secret API (exact endpoints, challenge
 * formulas and status codes), sealed storage (AES-256-GCM under a master key; SQLite or
 * PostgreSQL), and attested, chain-authorized release (nonce, key bound in REPORTDATA, JWE to the
 * enclave key, audit log). The protocol rules it shares with its clients are in src/protocol;
 * the client is src/sms-client.
 *
 * What the worker calls (src/sms-client and src/protocol):
 *   const sms = createSmsClient(url, { ca });
 *   const challenge = await sms.getEnclaveChallenge(workerpoolOwner, taskId);
 *   const { nonce } = await sms.getNonce();
 *   const key = generateSessionKeyPair(); // X25519 (or 'P-256')
 *   // quote with REPORTDATA = sessionReportData(key.publicJwk, nonce)
 *   // the worker wallet signs the authorization hash (the Authorization header)
 *   const { jwe } = await sms.openSession(worker, { authorization, quote, collateral, publicKey: key.publicJwk, nonce });
 *   const secrets = await decryptSessionJwe<SessionSecrets>(jwe, key.privateKey);
 */
export { recoverChallengeSigner, isSignedBy } from './signature.js';
export {
  type SessionRefusalCode,
  type ReleaseTimings,
  SESSION_REFUSALS,
  createReleaseService,
} from './release.js';
export {
  type ChainReader,
  type ChainTaskInfo,
  type ChainDealInfo,
  type ChainAppInfo,
  type ChainDatasetInfo,
  type TaskStatusName,
  cachedChainReader,
  isTeeTag,
  chainReaderFromClient,
  batchedClient,
} from '../chain/index.js';
export {
  type AttestationVerifier,
  type VerifiedEnclave,
  type QuoteVerdict,
  type QuoteRefusalCode,
} from './verifier.js';
export { createAttestationVerifier, parseSmsPolicy, DEFAULT_SMS_POLICY } from './attestation-adapter.js';
export { type Sealer, createSealer, loadMasterKey, MASTER_KEY_ENV } from './sealing.js';
export {
  type SmsStore,
  type SecretId,
  type SecretKind,
  type AuditEntry,
  openStore,
  openSqliteStore,
  openPostgresStore,
} from './store.js';
export { type Logger, type LogLevel, createLogger, silentLogger } from './log.js';
export { type Sms, type SmsDeps, type Listening, createSms, listen, checkMasterKey } from './server.js';
export {
  type SecretApi,
  createSecretApi,
  secretRoutes,
  isDatasetKey,
  isResultEncryptionKey,
} from './secrets.js';
export { createSmsApp } from './app.js';
export { generateSelfSignedCert, loadOrCreateTls, type TlsMaterial } from '../util/tls.js';
export {
  type StartSmsOptions,
  type RunningSms,
  type SmsRecord,
  type SmsCluster,
  DEFAULT_SMS_PORT,
  startSms,
  startSmsCluster,
  readSmsRecord,
  smsDir,
  smsRecordPath,
} from './start.js';
export { type TaskReader, rawTaskReader, decodeTaskHead, VIEW_TASK_SELECTOR } from '../chain/index.js';
