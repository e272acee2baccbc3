import { defineCodes } from './define.js';

/** The Secret Management Service: its HTTP answers, its store, and the client's view of it. */
export const SMS_CODES = defineCodes('sms', {
  // secrets API
  SECRET_EXISTS: ['The secret already exists and is immutable.', 409],
  SECRET_NOT_FOUND: ['No such secret.', 404],
  SECRET_TOO_LARGE: ['The secret is over the size limit.', 413],
  SECRET_NAME_INVALID: ['A secret name is empty, too long or has characters outside [A-Za-z0-9_-].', 400],
  SIGNER_UNKNOWN: ['No owner is found on chain for the asset, so no signature can be accepted.', 401],
  SIGNATURE_INVALID: ['The Authorization header is not the expected EIP-191 signature.', 401],
  AUTHORIZATION_MISSING: ['The Authorization header is missing.', 401],
  SIGNATURE_REUSED: [
    'The signature of a secret push was already used (a replay): sign a new value, never an old one again.',
    403,
  ],
  RESULT_KEY_INVALID: ['A result-encryption key is not an RSA key in PEM (base64 on the wire).', 400],
  METHOD_NOT_ALLOWED: ['Secrets are never read back; HEAD checks one exists.', 405],
  // release to an enclave
  TASK_ID_INVALID: ['A task id is not 0x + 64 hex characters.', 400],
  TASK_NOT_ACTIVE: ['The task is not ACTIVE on chain (initialize it first).', [401, 403]],
  TASK_MISMATCH: ['The task id does not match the deal id and task index given.', 403],
  DEAL_NOT_TEE: [
    'The deal does not have the TEE tag (the SMS releases, and the worker runs, TEE tasks only).',
    403,
  ],
  AUTHORIZATION_INVALID: ['The workerpool authorization is not signed by the workerpool owner.', 403],
  ENCLAVE_CHALLENGE_UNKNOWN: ['The enclave challenge is not the one this SMS issued for the task.', 403],
  WORKER_SIGNATURE_MISSING: [
    'The session request has no Authorization header (the worker signature of the authorization hash).',
    403,
  ],
  WORKER_SIGNATURE_INVALID: [
    'The Authorization header of a session request is not the signature of the authorization hash by the worker it names.',
    403,
  ],
  NONCE_INVALID: ['The session nonce is unknown, used or expired.', 403],
  SESSION_REQUEST_INVALID: ['The session request is malformed.', 400],
  SESSION_REQUEST_TOO_LARGE: ['The session request is over the size limit.', 413],
  QUOTE_INVALID: ['The quote or its collateral does not parse or verify.', 403],
  QUOTE_ROOT_UNTRUSTED: ['The quote does not chain to a root this SMS trusts.', 403],
  ENCLAVE_DEBUG: ['The quote comes from a debug enclave, which the SMS policy refuses.', 403],
  REPORTDATA_MISMATCH: ['The quote does not vouch for the session key (REPORTDATA).', 403],
  APP_FINGERPRINT_INVALID: ['The app has no valid SCONE fingerprint on chain.', 403],
  DATASET_NOT_FOUND: ['The dataset of the deal is not on chain.', 403],
  DATASET_KEY_MISSING: ['No key was pushed for the dataset.', 403],
  REQUESTER_SECRET_MISSING: ['The requester has no secret of a name the deal asks for.', 403],
  RESULT_KEY_MISSING: ['The deal asks for result encryption but the beneficiary pushed no result key.', 403],
  CHAIN_UNAVAILABLE: ['The SMS cannot read the chain right now; retry later.', 503],
  // release receipts (GET /receipts/{taskId})
  RECEIPT_AUTH_MISSING: [
    'Reading a receipt needs the Authorization header (a wallet signature) and the X-Sealwork-Timestamp header.',
    401,
  ],
  RECEIPT_AUTH_INVALID: [
    'The Authorization header is not an EIP-191 signature of the receipt-read challenge for this task and timestamp.',
    401,
  ],
  RECEIPT_AUTH_EXPIRED: [
    'The X-Sealwork-Timestamp of a receipt read is more than 5 minutes from the SMS clock: sign a fresh one.',
    401,
  ],
  RECEIPT_FORBIDDEN: ["Only the task's requester and its dataset's owner may read its release receipt.", 403],
  RECEIPT_NOT_FOUND: ['This SMS released no secret for that task, so it holds no receipt.', 404],
  CHAIN_RPC_ERROR: 'The chain node answered a malformed JSON-RPC result.',
  SMS_STORE_UNAVAILABLE: [
    'The SMS database cannot be reached right now (PostgreSQL down or restarting, SQLite locked); nothing was written; retry later.',
    503,
  ],
  // the SMS process
  SMS_DB_OPEN_FAILED: 'The SMS database cannot be opened.',
  SMS_MASTER_KEY_INVALID: 'The SMS master key is not 32 bytes (base64 or hex).',
  SMS_MASTER_KEY_EXPOSED: 'The SMS master key file is readable by other users.',
  SMS_MASTER_KEY_MISMATCH: 'The SMS master key is not the one the database was sealed with.',
  SMS_SEALED_VALUE_CORRUPT: 'A sealed value in the SMS database is corrupt.',
  SMS_WORKER_FAILED: 'An SMS worker process exited while starting.',
  // the SMS enclave (measurement, signing, sealing, recovery)
  SMS_MEASURE_FAILED: 'The SMS cannot be measured (its checkout or a package it loads is missing).',
  SMS_IDENTITY_INVALID: 'An SMS ISVSVN or ISVPRODID is not an integer 0..65535.',
  SMS_SIGNING_KEY_INVALID: 'The SMS signing key is missing or not an Ed25519 private key in PEM.',
  SMS_SIGSTRUCT_INVALID: 'The SMS identity is not signed by the key its MRSIGNER names.',
  SMS_SEAL_POLICY_INVALID: 'The sealing policy is neither mrenclave nor mrsigner.',
  SMS_RECOVERY_KEY_INVALID: 'The recovery key is not an RSA (≥ 3072 bits) key in PEM.',
  SMS_ENCLAVE_FAILED: 'The SMS enclave process exited while starting.',
  TLS_CERT_INVALID: 'A TLS certificate file is not a PEM X.509 certificate.',
  TLS_OPTIONS_INCOMPLETE: 'Give both --tls-cert and --tls-key, or neither.',
  // the client
  SMS_UNREACHABLE: 'The SMS cannot be reached.',
  SMS_TLS_UNTRUSTED: 'The SMS presented a TLS certificate this client does not trust (pass --sms-ca).',
  SMS_UNAUTHORIZED: 'The SMS refused the signature of the request (HTTP 401).',
  // the client's check of the SMS (attested TLS)
  SMS_NOT_ATTESTED:
    'The SMS did not prove it is an attested SMS enclave (no or invalid evidence, untrusted quote, plain HTTP or an operator certificate): nothing was sent.',
  SMS_POLICY_MISMATCH:
    "The SMS's attested identity (MrEnclave, MrSigner, TCB, simulation) is not what the pinned SMS policy accepts: nothing was sent.",
  SMS_KEY_NOT_BOUND:
    "The TLS key of the connection is not the key the SMS's quote binds (a man in the middle, or a certificate not from the enclave): nothing was sent.",
  SMS_NOT_PINNED:
    'No SMS policy is pinned (MrEnclave or MrSigner), so no SMS is trusted: pin one with --sms-mrenclave / --sms-mrsigner or SEALWORK_SMS_MRENCLAVE / SEALWORK_SMS_MRSIGNER.',
  SMS_PIN_INVALID: 'A pinned SMS MrEnclave or MrSigner is not 32 bytes of hex.',
  SESSION_KEY_INVALID: 'The enclave session key is not a P-256 or X25519 public JWK.',
  SESSION_DECRYPT_FAILED: 'The SMS release does not decrypt with this enclave key.',
  RECEIPT_INVALID: 'A release receipt is not valid JSON of the receipt format.',
});
