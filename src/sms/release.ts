/**
 * Attested, chain-authorized release (modelled on Trustee KBS: nonce, key bound in REPORTDATA,
 * encrypted response):
 *
 * 1. `POST /tee/challenges/{taskId}` — the workerpool owner (EIP-191 signature of keccak256(taskId))
 *    gets the task's enclave challenge address; its secp256k1 key is kept sealed until the task's
 *    final deadline.
 * 2. `GET /tee/nonce` — a fresh single-use nonce with a short lifetime.
 * 3. `POST /tee/sessions` — the worker named in the workerpool authorization signs the request
 *    (`Authorization` header: its EIP-191 signature of the authorization hash, as iexec-worker
 *    sends and iexec-sms checks); every check in order, refusing with a stable code on the first
 *    failure and releasing nothing; on success a JWE (ECDH-ES + A256GCM) to the enclave's session key.
 * 4. Every release and refusal goes to the audit log (table + log line).
 */
import { timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isAddress, zeroAddress as ZERO_ADDRESS, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { SealworkError, type ErrorCode } from '../errors.js';
import { challengeAad, enclaveChallenge, workerpoolOwner } from './challenge.js';
import { type ChainAppInfo, type ChainDealInfo, type ChainReader } from '../chain/index.js';
import {
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  RESULT_ENCRYPTION_KEY_NAME,
  computeTaskId,
  encryptToEnclave,
  isTeeTag,
  parseAppMrEnclave,
  parseDealParams,
  sessionBinding,
  sessionPublicKeyBytes,
  workerpoolAuthorizationHash,
  type AppFingerprint,
  type DealParams,
  type SessionPublicJwk,
  type SessionRequest,
  type SessionResponse,
  type SessionSecrets,
  type WorkerpoolAuthorization,
} from '../protocol/index.js';
import { isRefusal, unavailable } from './http-errors.js';
import type { Logger } from './log.js';
import { createNonces, type Nonces } from './nonces.js';
import type { Sealer } from './sealing.js';
import { secretAad, type AuditEntry, type SecretId, type SmsStore, type StoredChallenge } from './store.js';
import type { ReceiptIssuer } from './receipts.js';
import { isSignedBy, recoverChallengeSigner } from './signature.js';
import type { AttestationVerifier, VerifiedEnclave } from './verifier.js';

// The session wire types are protocol rules (src/protocol/session.ts), shared with the worker.
export type {
  WorkerpoolAuthorization,
  SessionRequest,
  SessionResponse,
  SessionSecrets,
} from '../protocol/index.js';

/** Stable refusal codes of `POST /tee/sessions`, in the order the checks run. */
export const SESSION_REFUSALS = [
  'SESSION_REQUEST_INVALID',
  'TASK_NOT_ACTIVE',
  'TASK_MISMATCH',
  'DEAL_NOT_FOUND',
  'DEAL_NOT_TEE',
  'AUTHORIZATION_INVALID',
  'ENCLAVE_CHALLENGE_UNKNOWN',
  'WORKER_SIGNATURE_MISSING',
  'WORKER_SIGNATURE_INVALID',
  'NONCE_INVALID',
  'QUOTE_INVALID',
  'QUOTE_ROOT_UNTRUSTED',
  'ENCLAVE_DEBUG',
  'POLICY_REFUSED',
  'APP_FINGERPRINT_INVALID',
  'MRENCLAVE_MISMATCH',
  'REPORTDATA_MISMATCH',
  'DATASET_NOT_FOUND',
  'DATASET_KEY_MISSING',
  'REQUESTER_SECRET_MISSING',
  'RESULT_KEY_MISSING',
] as const satisfies readonly ErrorCode[];
export type SessionRefusalCode = (typeof SESSION_REFUSALS)[number];

// ------------------------------------------------------------------ the request

const hex32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x + 64 hex characters')
  .transform((h) => h as Hex);
const address = z
  .string()
  .refine((a) => isAddress(a, { strict: false }), 'expected a 20-byte hex address')
  .transform((a) => a as Address);
/** The shape of a `POST /tee/sessions` body (validated by the route before the checks run). */
export const SessionRequestSchema = z.object({
  authorization: z.object({
    chainTaskId: hex32,
    dealId: hex32,
    taskIndex: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform(Number),
    workerWallet: address,
    enclaveChallenge: address,
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte 0x signature')
      .transform((h) => h as Hex),
  }),
  quote: z
    .string()
    .min(1)
    .max(1 << 20),
  collateral: z.unknown().optional(),
  /** Checked as a P-256 or X25519 public JWK by the first check. */
  publicKey: z.record(z.string(), z.unknown()).transform((k) => k as SessionPublicJwk),
  nonce: hex32,
}) satisfies z.ZodType<SessionRequest, unknown>;

/** The refusal of a body that is not a session request (`issue`: the first thing wrong). */
export function malformedSession(issue: { path: PropertyKey[]; message: string }): SealworkError {
  return new SealworkError(
    'SESSION_REQUEST_INVALID',
    `Malformed session request: ${issue.path.map(String).join('.') || 'body'}: ${issue.message}`,
  );
}

function decodeQuote(q: string): Buffer | undefined {
  const t = q.trim();
  if (/^0x([0-9a-fA-F]{2})+$/.test(t)) return Buffer.from(t.slice(2), 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return Buffer.from(t, 'base64');
  return undefined;
}

// ------------------------------------------------------------------ service

export interface ReleaseDeps {
  store: SmsStore;
  sealer: Sealer;
  chain: ChainReader;
  verifier: AttestationVerifier;
  logger: Logger;
  /** Nonce lifetime (default 60 s). */
  nonceTtlMs?: number;
  /** Max live nonces (default 100 000). */
  maxNonces?: number;
  /**
   * Shared nonces, for several SMS processes behind one port: nonces are
   * `random(16) ‖ expiry(8, ms) ‖ HMAC-SHA256(key, random ‖ expiry)[0:8]`, checkable by any
   * process, and single use is enforced by the store (`useNonce`). Default: in memory.
   */
  nonceKey?: Uint8Array;
  /** Signs and stores a receipt of every release (receipts.ts); none are issued without it. */
  receipts?: ReceiptIssuer;
}

/** Where the time of a session goes (milliseconds, summed), for the benchmark. */
export interface ReleaseTimings {
  sessions: number;
  chain: number;
  signature: number;
  quote: number;
  secrets: number;
  encryption: number;
  receipt: number;
  audit: number;
}

/** What the checks share: the SMS's parts, its nonces, and the timings they add to. */
interface Checks extends ReleaseDeps {
  nonces: Nonces;
  timed<T>(k: keyof ReleaseTimings, f: () => Promise<T>): Promise<T>;
}

/** What the audit records of a session, learnt as the checks run. */
type Trail = Omit<AuditEntry, 'time' | 'verdict' | 'code' | 'reason' | 'secrets'>;
const newTrail = (): Trail => ({ taskId: null, app: null, mrenclave: null, mrsigner: null, worker: null });

/** A session request, decoded: what the checks work on. */
interface Claim {
  taskId: Hex;
  dealId: Hex;
  taskIndex: number;
  authorization: WorkerpoolAuthorization;
  quote: Buffer;
  collateral: unknown;
  publicKey: SessionPublicJwk;
  publicKeyBytes: Buffer;
  nonce: Hex;
  /** The `Authorization` header: the worker's signature of the authorization hash. */
  workerSignature: string | undefined;
}

const refuse = (code: SessionRefusalCode, reason: string) => new SealworkError(code, reason);

// ------------------------------------------------------------------ the checks, in protocol order

/** 0. The request: ids, the enclave's session key and the quote decode. */
function decodeRequest(req: SessionRequest, workerSignature: string | undefined, trail: Trail): Claim {
  const a = req.authorization;
  const claim = {
    taskId: a.chainTaskId.toLowerCase() as Hex,
    dealId: a.dealId.toLowerCase() as Hex,
    taskIndex: Number(a.taskIndex),
    authorization: a,
    collateral: req.collateral,
    publicKey: req.publicKey,
    nonce: req.nonce.toLowerCase() as Hex,
    workerSignature,
  };
  trail.taskId = claim.taskId;
  trail.worker = a.workerWallet.toLowerCase();
  let publicKeyBytes: Buffer;
  try {
    publicKeyBytes = sessionPublicKeyBytes(req.publicKey);
  } catch (e) {
    throw refuse('SESSION_REQUEST_INVALID', (e as Error).message);
  }
  const quote = decodeQuote(req.quote);
  if (!quote) throw refuse('SESSION_REQUEST_INVALID', 'The quote is neither 0x-hex nor base64.');
  return { ...claim, publicKeyBytes, quote };
}

/** 1. The task is ACTIVE on chain (read fresh), is the deal's task at that index, and the deal is TEE. */
async function checkTask(x: Checks, c: Claim, trail: Trail): Promise<ChainDealInfo> {
  const task = await x.timed('chain', () => x.chain.task(c.taskId));
  if (!task || task.status === 'UNSET')
    throw refuse(
      'TASK_NOT_ACTIVE',
      `Task ${c.taskId} is not initialized on chain (status UNSET), not ACTIVE.`,
    );
  if (task.status !== 'ACTIVE')
    throw refuse('TASK_NOT_ACTIVE', `Task ${c.taskId} is ${task.status}, not ACTIVE.`);
  if (
    task.dealId.toLowerCase() !== c.dealId ||
    Number(task.index) !== c.taskIndex ||
    computeTaskId(c.dealId, c.taskIndex) !== c.taskId
  )
    throw refuse('TASK_MISMATCH', 'The task id does not match the deal id and task index given.');
  const deal = await x.timed('chain', () => x.chain.deal(c.dealId));
  if (!deal) throw refuse('DEAL_NOT_FOUND', `No deal ${c.dealId} on chain.`);
  trail.app = deal.app.toLowerCase();
  if (!isTeeTag(deal.tag))
    throw refuse('DEAL_NOT_TEE', `Deal ${c.dealId} does not have the TEE tag (bit 0).`);
  return deal;
}

/** 2. The workerpool owner signed the authorization, for the enclave challenge this SMS issued. */
async function checkAuthorization(x: Checks, c: Claim, deal: ChainDealInfo): Promise<StoredChallenge> {
  const a = c.authorization;
  const hash = workerpoolAuthorizationHash(a);
  const owner = await x.timed('chain', () => workerpoolOwner(x.chain, deal));
  const signed =
    owner !== undefined && (await x.timed('signature', () => isSignedBy(hash, a.signature, owner)));
  if (!signed) {
    const signer = await recoverChallengeSigner(hash, a.signature);
    throw refuse(
      'AUTHORIZATION_INVALID',
      `The workerpool authorization is not signed by the workerpool owner ${owner ?? '(unknown)'}${signer ? ` (signed by ${signer})` : ''}.`,
    );
  }
  const challenge = await x.store.getChallenge(c.taskId);
  if (!challenge || challenge.address.toLowerCase() !== a.enclaveChallenge.toLowerCase())
    throw refuse(
      'ENCLAVE_CHALLENGE_UNKNOWN',
      `The enclave challenge ${a.enclaveChallenge} is not the one this SMS issued for task ${c.taskId}.`,
    );
  return challenge;
}

/**
 * 2b. The worker named in the (now verified) authorization signed the request: the `Authorization`
 * header is its EIP-191 signature of the authorization hash (iexec-sms `isSignedByHimself`). Without
 * it the scheduler's signature would be a bearer token for whoever saw it.
 */
async function checkWorker(x: Checks, c: Claim): Promise<void> {
  const worker = c.authorization.workerWallet;
  if (!c.workerSignature)
    throw refuse(
      'WORKER_SIGNATURE_MISSING',
      `The Authorization header (the signature of the authorization hash by worker ${worker}) is missing.`,
    );
  const hash = workerpoolAuthorizationHash(c.authorization);
  if (!(await x.timed('signature', () => isSignedBy(hash, c.workerSignature!, worker))))
    throw refuse(
      'WORKER_SIGNATURE_INVALID',
      `The Authorization header is not the signature of the authorization hash by worker ${worker}.`,
    );
}

/** 3. The nonce is fresh and unused (used up now, whatever happens next). */
const checkNonce = (x: Checks, c: Claim): Promise<void> => x.nonces.consume(c.nonce);

/** 4. The quote verifies and passes the SMS policy. */
async function checkQuote(x: Checks, c: Claim, trail: Trail): Promise<VerifiedEnclave> {
  const verdict = await x.timed('quote', () => x.verifier.verify(c.quote, c.collateral));
  if (verdict.enclave?.mrenclave) trail.mrenclave = verdict.enclave.mrenclave;
  if (verdict.enclave?.mrsigner) trail.mrsigner = verdict.enclave.mrsigner;
  if (!verdict.ok) throw refuse(verdict.code, verdict.reason);
  return verdict.enclave;
}

/**
 * 6. REPORTDATA binds the session key to the nonce: the last check of the enclave, once its
 * identity (quote, policy, fingerprint) is known to be right.
 */
function checkBinding(c: Claim, enclave: VerifiedEnclave): void {
  const expected = sessionBinding(c.publicKeyBytes, c.nonce);
  const got = Buffer.from(enclave.reportData).subarray(0, 32);
  if (got.length !== 32 || !timingSafeEqual(got, expected))
    throw refuse(
      'REPORTDATA_MISMATCH',
      'REPORTDATA[0:32] is not sha256(publicKey ‖ nonce): the quote does not vouch for this key.',
    );
}

/** 5. MRENCLAVE is the app's on-chain fingerprint. */
async function checkFingerprint(
  x: Checks,
  deal: ChainDealInfo,
  enclave: VerifiedEnclave,
): Promise<{ app: ChainAppInfo; fp: AppFingerprint }> {
  const app = await x.timed('chain', () => x.chain.app(deal.app));
  const fp = app && parseAppMrEnclave(app.mrenclave);
  if (!app || !fp)
    throw refuse('APP_FINGERPRINT_INVALID', `App ${deal.app} has no SCONE fingerprint on chain.`);
  if (fp.mrenclave !== enclave.mrenclave.toLowerCase())
    throw refuse(
      'MRENCLAVE_MISMATCH',
      `MRENCLAVE ${enclave.mrenclave} is not the MrEnclave of app ${deal.app} (${fp.mrenclave}).`,
    );
  return { app, fp };
}

/** The secrets of a session, and the names of what is released. */
interface Released {
  dataset: SessionSecrets['dataset'];
  requesterSecrets: Record<string, string>;
  resultEncryptionKey: string | null;
  developerSecret: string | undefined;
  fsKey: string | undefined;
  challengeKey: Hex;
  names: string[];
}

const openSecret = async (x: Checks, id: SecretId): Promise<string | undefined> => {
  const sealed = await x.store.getSecret(id);
  return sealed && x.sealer.open(sealed, secretAad(id)).toString('utf8');
};

/** 7. The secrets the deal needs exist: the dataset key, the requester's secrets, the result key. */
async function gatherSecrets(
  x: Checks,
  c: Claim,
  deal: ChainDealInfo,
  params: DealParams,
  challenge: StoredChallenge,
): Promise<Released> {
  const names: string[] = [];
  let dataset: Released['dataset'] = null;
  if (deal.dataset.toLowerCase() !== ZERO_ADDRESS) {
    const ds = await x.timed('chain', () => x.chain.dataset(deal.dataset));
    if (!ds) throw refuse('DATASET_NOT_FOUND', `Dataset ${deal.dataset} is not on chain.`);
    const key = await openSecret(x, { kind: 'web3', owner: deal.dataset, name: '' });
    if (key === undefined)
      throw refuse('DATASET_KEY_MISSING', `No key was pushed for dataset ${deal.dataset}.`);
    dataset = { address: ds.address, name: ds.name, url: ds.multiaddr, checksum: ds.checksum, key };
    names.push(`dataset:${deal.dataset.toLowerCase()}`);
  }
  const requesterSecrets: Record<string, string> = {};
  for (const [index, name] of Object.entries(params.secrets)) {
    const v = await openSecret(x, { kind: 'requester', owner: deal.requester, name });
    if (v === undefined)
      throw refuse(
        'REQUESTER_SECRET_MISSING',
        `Requester ${deal.requester} has no secret named ${name} (iexec_secrets ${index}).`,
      );
    requesterSecrets[index] = v;
    names.push(`requester:${name}`);
  }
  const resultEncryptionKey =
    (await openSecret(x, { kind: 'web2', owner: deal.beneficiary, name: RESULT_ENCRYPTION_KEY_NAME })) ??
    null;
  if (params.resultEncryption && !resultEncryptionKey)
    throw refuse(
      'RESULT_KEY_MISSING',
      `The deal asks for result encryption but beneficiary ${deal.beneficiary} pushed no result key.`,
    );
  if (resultEncryptionKey) names.push('result-encryption-key');
  const developerSecret = await openSecret(x, {
    kind: 'app',
    owner: deal.app,
    name: APP_DEVELOPER_SECRET_KEY,
  });
  if (developerSecret !== undefined) names.push('app-developer-secret');
  const fsKey = await openSecret(x, { kind: 'app', owner: deal.app, name: APP_FS_KEY_NAME });
  if (fsKey !== undefined) names.push('app-fs-key');
  const challengeKey = x.sealer.open(challenge.sealedKey, challengeAad(c.taskId)).toString('utf8') as Hex;
  names.push('enclave-challenge-key', 'fspf-key');
  return { dataset, requesterSecrets, resultEncryptionKey, developerSecret, fsKey, challengeKey, names };
}

/** What the enclave finds in the JWE. */
function sessionSecrets(
  c: Claim,
  deal: ChainDealInfo,
  params: DealParams,
  { app, fp }: { app: ChainAppInfo; fp: AppFingerprint },
  s: Released,
  challenge: StoredChallenge,
): SessionSecrets {
  return {
    version: 1,
    task: {
      id: c.taskId,
      dealId: c.dealId,
      index: c.taskIndex,
      requester: deal.requester,
      beneficiary: deal.beneficiary,
      workerWallet: c.authorization.workerWallet,
      args: params.args,
      inputFiles: params.inputFiles,
      resultEncryption: params.resultEncryption,
      params: deal.params,
    },
    app: {
      address: app.address,
      multiaddr: app.multiaddr,
      checksum: app.checksum,
      mrenclave: fp.mrenclave,
      fspfKey: fp.fspfKey,
      fspfTag: fp.fspfTag,
      ...(fp.entrypoint ? { entrypoint: fp.entrypoint } : {}),
      ...(fp.heapSize !== undefined ? { heapSize: fp.heapSize } : {}),
      ...(s.fsKey !== undefined ? { fsKey: s.fsKey } : {}),
      ...(s.developerSecret !== undefined ? { developerSecret: s.developerSecret } : {}),
    },
    dataset: s.dataset,
    requesterSecrets: s.requesterSecrets,
    resultEncryptionKey: s.resultEncryptionKey,
    enclaveChallenge: { address: challenge.address as Address, privateKey: s.challengeKey },
    issuedAt: new Date().toISOString(),
  };
}

/** 8. The signed receipt of this release (receipts.ts), when the SMS has a key to sign it. */
async function issueReceipt(
  x: Checks,
  c: Claim,
  deal: ChainDealInfo,
  enclave: VerifiedEnclave,
  released: string[],
): Promise<SessionResponse['receipt']> {
  if (!x.receipts) return undefined;
  const dataset = deal.dataset.toLowerCase() === ZERO_ADDRESS ? null : deal.dataset;
  return x.receipts.issue({
    task: {
      id: c.taskId,
      dealId: c.dealId,
      index: c.taskIndex,
      app: deal.app,
      dataset,
      requester: deal.requester,
      beneficiary: deal.beneficiary,
      worker: c.authorization.workerWallet,
    },
    enclaveChallenge: c.authorization.enclaveChallenge,
    enclave,
    quote: c.quote,
    released,
  });
}

/** `POST /tee/sessions`: every check in protocol order, the first failure throwing its refusal. */
async function release(
  x: Checks,
  req: SessionRequest,
  workerSignature: string | undefined,
  trail: Trail,
): Promise<SessionResponse> {
  const claim = decodeRequest(req, workerSignature, trail);
  const deal = await checkTask(x, claim, trail);
  const challenge = await checkAuthorization(x, claim, deal);
  await checkWorker(x, claim);
  await checkNonce(x, claim);
  const enclave = await checkQuote(x, claim, trail);
  const app = await checkFingerprint(x, deal, enclave);
  checkBinding(claim, enclave);
  const params = parseDealParams(deal.params);
  const secrets = await x.timed('secrets', () => gatherSecrets(x, claim, deal, params, challenge));
  const payload = sessionSecrets(claim, deal, params, app, secrets, challenge);
  const jwe = await x.timed('encryption', () => encryptToEnclave(payload, claim.publicKey, claim.taskId));
  const receipt = await x.timed('receipt', () => issueReceipt(x, claim, deal, enclave, secrets.names));
  return { jwe, taskId: claim.taskId, released: secrets.names, ...(receipt ? { receipt } : {}) };
}

// ------------------------------------------------------------------ the audit

/** What the audit says of a refusal: its code and message, or a fixed reason for a failure. */
function refusalEntry(e: unknown): { code: string; reason: string } {
  if (isRefusal(e)) return { code: e.code, reason: e.shortMessage };
  // Chain or database down (503) or an internal failure (500): an error message is not ours to copy here.
  const down = unavailable(e);
  if (down === 'CHAIN_UNAVAILABLE')
    return { code: down, reason: 'The chain could not be read; nothing was released.' };
  if (down === 'SMS_STORE_UNAVAILABLE')
    return { code: down, reason: 'The SMS database could not be reached; nothing was released.' };
  return { code: 'INTERNAL', reason: 'Internal SMS error; nothing was released.' };
}

function auditor(x: Checks) {
  return async function audit(trail: Trail, outcome: { released: string[] } | { refused: unknown }) {
    const verdict = 'released' in outcome ? 'released' : 'refused';
    const { code, reason } =
      'released' in outcome ? { code: null, reason: null } : refusalEntry(outcome.refused);
    const secrets = 'released' in outcome ? outcome.released : [];
    (verdict === 'released' ? x.logger.info : x.logger.warn)('tee session', {
      audit: true,
      ...trail,
      secrets,
      verdict,
      code,
      reason,
    });
    const entry: AuditEntry = { time: new Date().toISOString(), ...trail, secrets, verdict, code, reason };
    await x.timed('audit', () => x.store.appendAudit(entry));
  };
}

// ------------------------------------------------------------------ the service

export function createReleaseService(d: ReleaseDeps) {
  const timings: ReleaseTimings = {
    sessions: 0,
    chain: 0,
    signature: 0,
    quote: 0,
    secrets: 0,
    encryption: 0,
    receipt: 0,
    audit: 0,
  };
  const nonces = createNonces({
    store: d.store,
    ...(d.nonceTtlMs !== undefined ? { ttlMs: d.nonceTtlMs } : {}),
    ...(d.maxNonces !== undefined ? { max: d.maxNonces } : {}),
    ...(d.nonceKey ? { key: d.nonceKey } : {}),
  });
  const x: Checks = {
    ...d,
    nonces,
    async timed(k, f) {
      const t = performance.now();
      try {
        return await f();
      } finally {
        timings[k] += performance.now() - t;
      }
    },
  };
  const audit = auditor(x);

  /** The one place a session's outcome is audited (table + log line), released or refused. */
  async function audited(trail: Trail, run: () => Promise<SessionResponse>): Promise<SessionResponse> {
    let response: SessionResponse;
    try {
      response = await run();
    } catch (e) {
      await audit(trail, { refused: e }).catch((auditError: unknown) => {
        if (isRefusal(e)) throw auditError;
      });
      throw e;
    }
    await audit(trail, { released: response.released });
    return response;
  }

  return {
    timings,

    /** `POST /tee/challenges/{taskId}` with the workerpool owner's Authorization. */
    createChallenge: (taskId: Hex, authorization: string | undefined): Promise<Address> =>
      enclaveChallenge(d, taskId, authorization),

    /** `GET /tee/nonce`. */
    newNonce: (): { nonce: Hex; expiresAt: string } => nonces.issue(),

    /**
     * `POST /tee/sessions`: every check in order; a JWE to the enclave key, or the refusal thrown.
     * `workerSignature` is the request's `Authorization` header.
     */
    async openSession(req: SessionRequest, workerSignature: string | undefined): Promise<SessionResponse> {
      const t0 = performance.now();
      const trail = newTrail();
      const response = await audited(trail, () => release(x, req, workerSignature, trail));
      timings.sessions++;
      d.logger.debug('session timing', { taskId: response.taskId, ms: performance.now() - t0 });
      return response;
    },

    /** Refuse (audited) a session request the checks never saw: malformed, or over the size limit. */
    refuse: (error: SealworkError): Promise<never> =>
      audited(newTrail(), () => Promise.reject(error)) as Promise<never>,

    /** Delete the challenge keys of tasks past their final deadline, and expired nonces. */
    async cleanup(nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
      await nonces.sweep();
      const n = await d.store.deleteExpiredChallenges(nowSeconds);
      if (n > 0) d.logger.info('enclave challenges deleted after final deadline', { count: n });
      return n;
    },
  };
}

export type ReleaseService = ReturnType<typeof createReleaseService>;
