/**
 * Attested, chain-authorized release (modelled on Trustee KBS: nonce, key bound in REPORTDATA,
 * encrypted response):
 *
 * 1. `POST /tee/challenges/{taskId}` — the workerpool owner (EIP-191 signature of keccak256(taskId))
 *    gets the task's enclave challenge address; its secp256k1 key is kept sealed until the task's
 *    final deadline.
 * 2. `GET /tee/nonce` — a fresh single-use nonce with a short lifetime.
 * 3. `POST /tee/sessions` — every check in order, refusing with a stable code on the first failure
 *    and releasing nothing; on success a JWE (ECDH-ES + A256GCM) to the enclave's session key.
 * 4. Every release and refusal goes to the audit log (table + log line).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { encodePacked, isAddress, isHex, keccak256, type Address, type Hex } from 'viem';
import { z } from 'zod';
import {
  isChainUnavailable,
  isTeeTag,
  ZERO_ADDRESS,
  type ChainDealInfo,
  type ChainReader,
} from './chain-reader.js';
import { parseAppMrEnclave } from './fingerprint.js';
import {
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  RESULT_ENCRYPTION_KEY_NAME,
  isSignedBy,
  recoverChallengeSigner,
  sessionBinding,
  teeChallengeRequestHash,
  workerpoolAuthorizationHash,
} from './formulas.js';
import type { Logger } from './log.js';
import type { Sealer } from './sealing.js';
import { encryptToEnclave, sessionPublicKeyBytes, type SessionPublicJwk } from './session-crypto.js';
import { secretAad, type AuditEntry, type SecretId, type SmsStore } from './store.js';
import type { AttestationVerifier, VerifiedEnclave } from './verifier.js';
import type { ApiResult } from './secrets.js';

// ------------------------------------------------------------------ wire types

/** The workerpool authorization, as iExec's `WorkerpoolAuthorization` (plus dealId and taskIndex). */
export interface WorkerpoolAuthorization {
  chainTaskId: Hex;
  dealId: Hex;
  taskIndex: number;
  workerWallet: Address;
  enclaveChallenge: Address;
  /** The scheduler's (workerpool owner's) EIP-191 signature of keccak256(workerWallet ‖ taskId ‖ enclaveChallenge). */
  signature: Hex;
}

/** Body of `POST /tee/sessions`. */
export interface SessionRequest {
  authorization: WorkerpoolAuthorization;
  /** The SGX quote: 0x-hex or base64. */
  quote: string;
  /** Its collateral (the attestation module's JSON shape). */
  collateral?: unknown;
  /** The enclave's ephemeral public key (P-256 or X25519 JWK). */
  publicKey: SessionPublicJwk;
  /** The nonce from `GET /tee/nonce`. */
  nonce: Hex;
}

/** 200 body of `POST /tee/sessions`. */
export interface SessionResponse {
  /** Compact JWE (ECDH-ES, A256GCM) of a `SessionSecrets` JSON, to `publicKey`. */
  jwe: string;
  taskId: Hex;
  /** Names of what was released (never values). */
  released: string[];
}

/** What the enclave finds in the decrypted JWE. */
export interface SessionSecrets {
  version: 1;
  task: {
    id: Hex;
    dealId: Hex;
    index: number;
    requester: Address;
    beneficiary: Address;
    workerWallet: Address;
    /** `iexec_args` from the deal params ('' when none). */
    args: string;
    /** `iexec_input_files` URLs. */
    inputFiles: string[];
    /** `iexec_result_encryption` from the deal params. */
    resultEncryption: boolean;
    /** The raw deal params JSON. */
    params: string;
  };
  app: {
    address: Address;
    multiaddr: string;
    checksum: Hex;
    mrenclave: string;
    fspfKey: string;
    fspfTag: string;
    entrypoint?: string;
    heapSize?: number | string;
    /** The app's file-system key (encrypted regions), if the owner pushed one. */
    fsKey?: string;
    /** `IEXEC_APP_DEVELOPER_SECRET`, if pushed. */
    developerSecret?: string;
  };
  dataset: { address: Address; name: string; url: string; checksum: Hex; key: string } | null;
  /** Requester secrets by index as named in `iexec_secrets` (`IEXEC_REQUESTER_SECRET_<n>`). */
  requesterSecrets: Record<string, string>;
  /** The beneficiary's result-encryption public key (base64 of a PEM), if pushed. */
  resultEncryptionKey: string | null;
  /** The task's enclave challenge key, to sign the result (`enclaveSign`). */
  enclaveChallenge: { address: Address; privateKey: Hex };
  issuedAt: string;
}

/** Stable refusal codes of `POST /tee/sessions`, in the order the checks run. */
export const SESSION_REFUSALS = [
  'SESSION_REQUEST_INVALID',
  'TASK_NOT_ACTIVE',
  'TASK_MISMATCH',
  'DEAL_NOT_FOUND',
  'DEAL_NOT_TEE',
  'AUTHORIZATION_INVALID',
  'ENCLAVE_CHALLENGE_UNKNOWN',
  'NONCE_INVALID',
  'QUOTE_INVALID',
  'QUOTE_ROOT_UNTRUSTED',
  'ENCLAVE_DEBUG',
  'POLICY_REFUSED',
  'REPORTDATA_MISMATCH',
  'APP_FINGERPRINT_INVALID',
  'MRENCLAVE_MISMATCH',
  'DATASET_NOT_FOUND',
  'DATASET_KEY_MISSING',
  'REQUESTER_SECRET_MISSING',
  'RESULT_KEY_MISSING',
] as const;
export type SessionRefusalCode = (typeof SESSION_REFUSALS)[number];

// ------------------------------------------------------------------ validation

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x + 64 hex characters');
const address = z.string().refine((a) => isAddress(a, { strict: false }), 'expected a 20-byte hex address');
const SessionRequestSchema = z.object({
  authorization: z.object({
    chainTaskId: hex32,
    dealId: hex32,
    taskIndex: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]),
    workerWallet: address,
    enclaveChallenge: address,
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte 0x signature'),
  }),
  quote: z
    .string()
    .min(1)
    .max(1 << 20),
  collateral: z.unknown().optional(),
  publicKey: z.record(z.string(), z.unknown()),
  nonce: hex32,
});

function decodeQuote(q: string): Buffer | undefined {
  const t = q.trim();
  if (/^0x([0-9a-fA-F]{2})+$/.test(t)) return Buffer.from(t.slice(2), 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return Buffer.from(t, 'base64');
  return undefined;
}

function parseParams(params: string): {
  args: string;
  inputFiles: string[];
  secrets: Record<string, string>;
  resultEncryption: boolean;
} {
  let j: Record<string, unknown> = {};
  try {
    const v = JSON.parse(params || '{}') as unknown;
    if (v && typeof v === 'object') j = v as Record<string, unknown>;
  } catch {
    /* not JSON: no params */
  }
  const secrets: Record<string, string> = {};
  if (j.iexec_secrets && typeof j.iexec_secrets === 'object')
    for (const [k, v] of Object.entries(j.iexec_secrets as Record<string, unknown>))
      if (typeof v === 'string') secrets[k] = v;
  return {
    args: typeof j.iexec_args === 'string' ? j.iexec_args : '',
    inputFiles: Array.isArray(j.iexec_input_files)
      ? j.iexec_input_files.filter((x): x is string => typeof x === 'string')
      : [],
    secrets,
    resultEncryption: j.iexec_result_encryption === true || j.iexec_result_encryption === 'true',
  };
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
}

/** Where the time of a session goes (milliseconds, summed), for the benchmark. */
export interface ReleaseTimings {
  sessions: number;
  chain: number;
  signature: number;
  quote: number;
  secrets: number;
  encryption: number;
  audit: number;
}

class Refusal extends Error {
  constructor(
    readonly code: SessionRefusalCode,
    readonly reason: string,
    readonly status = 403,
  ) {
    super(reason);
  }
}

export function createReleaseService(d: ReleaseDeps) {
  const { store, sealer, chain, verifier, logger } = d;
  const nonceTtl = d.nonceTtlMs ?? 60_000;
  const maxNonces = d.maxNonces ?? 100_000;
  const nonces = new Map<string, number>();
  const timings: ReleaseTimings = {
    sessions: 0,
    chain: 0,
    signature: 0,
    quote: 0,
    secrets: 0,
    encryption: 0,
    audit: 0,
  };

  function sweepNonces(now: number) {
    for (const [n, exp] of nonces) if (exp <= now) nonces.delete(n);
  }

  async function timed<T>(k: keyof ReleaseTimings, f: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await f();
    } finally {
      timings[k] += performance.now() - t;
    }
  }

  /** Expiry of a shared nonce if it is ours and now marked used; undefined if forged or replayed. */
  async function consumeSharedNonce(nonce: string): Promise<number | undefined> {
    const b = Buffer.from(nonce.slice(2), 'hex');
    if (b.length !== 32) return undefined;
    const mac = createHmac('sha256', d.nonceKey!).update(b.subarray(0, 24)).digest().subarray(0, 8);
    if (!timingSafeEqual(mac, b.subarray(24))) return undefined;
    const exp = Number(b.readBigUInt64BE(16));
    if (exp <= Date.now()) return exp; // expired: refused below, nothing to record
    return (await store.useNonce(nonce, exp)) ? exp : undefined;
  }

  async function workerpoolOwner(deal: ChainDealInfo): Promise<Address | undefined> {
    return deal.workerpoolOwner ?? (await chain.owner(deal.workerpool));
  }

  async function openSecret(id: SecretId): Promise<string | undefined> {
    const sealed = await store.getSecret(id);
    return sealed && sealer.open(sealed, secretAad(id)).toString('utf8');
  }

  async function audit(e: Omit<AuditEntry, 'time'>): Promise<void> {
    const entry: AuditEntry = { time: new Date().toISOString(), ...e };
    (e.verdict === 'released' ? logger.info : logger.warn)('tee session', {
      audit: true,
      taskId: e.taskId,
      app: e.app,
      mrenclave: e.mrenclave,
      mrsigner: e.mrsigner,
      worker: e.worker,
      secrets: e.secrets,
      verdict: e.verdict,
      code: e.code,
      reason: e.reason,
    });
    await timed('audit', () => store.appendAudit(entry));
  }

  return {
    timings,

    /** `POST /tee/challenges/{taskId}` with the workerpool owner's Authorization. */
    async createChallenge(
      taskIdRaw: string | undefined,
      authorization: string | undefined,
    ): Promise<ApiResult & { address?: Address }> {
      if (!taskIdRaw || !/^0x[0-9a-fA-F]{64}$/.test(taskIdRaw))
        return {
          status: 400,
          body: {
            error: { code: 'TASK_ID_INVALID', message: 'The task id must be 0x + 64 hex characters.' },
          },
        };
      const taskId = taskIdRaw.toLowerCase() as Hex;
      const task = await chain.task(taskId);
      if (!task || task.status !== 'ACTIVE')
        return {
          status: 401,
          body: {
            error: {
              code: 'TASK_NOT_ACTIVE',
              message: `Task ${taskId} is ${task?.status ?? 'UNSET'}, not ACTIVE; initialize it first.`,
            },
          },
        };
      const deal = await chain.deal(task.dealId);
      const owner = deal && (await workerpoolOwner(deal));
      const signer = authorization
        ? await recoverChallengeSigner(teeChallengeRequestHash(taskId), authorization)
        : undefined;
      if (!owner || !signer || signer.toLowerCase() !== owner.toLowerCase())
        return {
          status: 401,
          body: {
            error: {
              code: authorization ? 'SIGNATURE_INVALID' : 'AUTHORIZATION_MISSING',
              message: `The Authorization header must be the EIP-191 signature of keccak256(taskId) by the workerpool owner ${owner ?? '(unknown)'}.`,
              expectedSigner: owner ?? null,
            },
          },
        };
      const existing = await store.getChallenge(taskId);
      if (existing) return { status: 200, address: existing.address as Address };
      const pk = generatePrivateKey();
      const addr = privateKeyToAddress(pk);
      const stored = await store.putChallenge({
        taskId,
        address: addr,
        sealedKey: sealer.seal(pk, `challenge|${taskId}`),
        finalDeadline: task.finalDeadline,
      });
      logger.info('enclave challenge created', {
        taskId,
        enclaveChallenge: stored.address,
        finalDeadline: task.finalDeadline,
      });
      return { status: 200, address: stored.address as Address };
    },

    /** Audit a session request refused before it reached `openSession` (e.g. a body over the limit). */
    async auditRefusal(code: string, reason: string): Promise<void> {
      await audit({
        taskId: null,
        app: null,
        mrenclave: null,
        mrsigner: null,
        worker: null,
        secrets: [],
        verdict: 'refused',
        code,
        reason,
      });
    },

    /** `GET /tee/nonce`. */
    newNonce(): { nonce: Hex; expiresAt: string } {
      const now = Date.now();
      if (d.nonceKey) {
        const body = Buffer.alloc(24);
        randomBytes(16).copy(body);
        body.writeBigUInt64BE(BigInt(now + nonceTtl), 16);
        const mac = createHmac('sha256', d.nonceKey).update(body).digest().subarray(0, 8);
        return {
          nonce: `0x${body.toString('hex')}${mac.toString('hex')}` as Hex,
          expiresAt: new Date(now + nonceTtl).toISOString(),
        };
      }
      if (nonces.size >= maxNonces) sweepNonces(now);
      if (nonces.size >= maxNonces) {
        const oldest = nonces.keys().next().value;
        if (oldest) nonces.delete(oldest);
      }
      const nonce = `0x${randomBytes(32).toString('hex')}` as Hex;
      nonces.set(nonce, now + nonceTtl);
      return { nonce, expiresAt: new Date(now + nonceTtl).toISOString() };
    },

    /** Delete the challenge keys of tasks past their final deadline. */
    async cleanup(nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
      sweepNonces(Date.now());
      if (d.nonceKey) await store.deleteExpiredNonces(Date.now());
      const n = await store.deleteExpiredChallenges(nowSeconds);
      if (n > 0) logger.info('enclave challenges deleted after final deadline', { count: n });
      return n;
    },

    /** `POST /tee/sessions`: every check in order; a JWE to the enclave key, or a refusal. */
    async openSession(raw: unknown): Promise<ApiResult & { response?: SessionResponse }> {
      const t0 = performance.now();
      const ctx: Omit<AuditEntry, 'time' | 'verdict' | 'code' | 'reason' | 'secrets'> = {
        taskId: null,
        app: null,
        mrenclave: null,
        mrsigner: null,
        worker: null,
      };
      try {
        const parsed = SessionRequestSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new Refusal(
            'SESSION_REQUEST_INVALID',
            `Malformed session request: ${issue?.path.join('.') || 'body'}: ${issue?.message}`,
            400,
          );
        }
        const req = parsed.data;
        const a = req.authorization;
        const taskId = a.chainTaskId.toLowerCase() as Hex;
        const dealId = a.dealId.toLowerCase() as Hex;
        const taskIndex = Number(a.taskIndex);
        ctx.taskId = taskId;
        ctx.worker = a.workerWallet.toLowerCase();
        let publicKeyBytes: Buffer;
        try {
          publicKeyBytes = sessionPublicKeyBytes(req.publicKey);
        } catch (e) {
          throw new Refusal('SESSION_REQUEST_INVALID', (e as Error).message, 400);
        }
        const quote = decodeQuote(req.quote);
        if (!quote)
          throw new Refusal('SESSION_REQUEST_INVALID', 'The quote is neither 0x-hex nor base64.', 400);

        // 1. The task is ACTIVE on chain (read fresh), and is the deal's task at that index.
        const task = await timed('chain', () => chain.task(taskId));
        if (!task || task.status === 'UNSET')
          throw new Refusal(
            'TASK_NOT_ACTIVE',
            `Task ${taskId} is not initialized on chain (status UNSET), not ACTIVE.`,
          );
        if (task.status !== 'ACTIVE')
          throw new Refusal('TASK_NOT_ACTIVE', `Task ${taskId} is ${task.status}, not ACTIVE.`);
        if (
          task.dealId.toLowerCase() !== dealId ||
          Number(task.index) !== taskIndex ||
          keccak256(encodePacked(['bytes32', 'uint256'], [dealId, BigInt(taskIndex)])) !== taskId
        )
          throw new Refusal('TASK_MISMATCH', 'The task id does not match the deal id and task index given.');

        // 2. The deal has the TEE tag.
        const deal = await timed('chain', () => chain.deal(dealId));
        if (!deal) throw new Refusal('DEAL_NOT_FOUND', `No deal ${dealId} on chain.`);
        ctx.app = deal.app.toLowerCase();
        if (!isTeeTag(deal.tag))
          throw new Refusal('DEAL_NOT_TEE', `Deal ${dealId} does not have the TEE tag (bit 0).`);

        // 3. The authorization is signed by the workerpool owner, for the task's enclave challenge.
        const owner = await timed('chain', () => workerpoolOwner(deal));
        const authorized =
          owner !== undefined &&
          (await timed('signature', () =>
            isSignedBy(workerpoolAuthorizationHash(a as WorkerpoolAuthorization), a.signature, owner),
          ));
        if (!authorized) {
          const signer = await recoverChallengeSigner(
            workerpoolAuthorizationHash(a as WorkerpoolAuthorization),
            a.signature,
          );
          throw new Refusal(
            'AUTHORIZATION_INVALID',
            `The workerpool authorization is not signed by the workerpool owner ${owner ?? '(unknown)'}${signer ? ` (signed by ${signer})` : ''}.`,
          );
        }
        const challenge = await store.getChallenge(taskId);
        if (!challenge || challenge.address.toLowerCase() !== a.enclaveChallenge.toLowerCase())
          throw new Refusal(
            'ENCLAVE_CHALLENGE_UNKNOWN',
            `The enclave challenge ${a.enclaveChallenge} is not the one this SMS issued for task ${taskId}.`,
          );

        // 4. The nonce is fresh and unused (consumed now, whatever happens next).
        const nonceKey = req.nonce.toLowerCase();
        const exp = d.nonceKey ? await consumeSharedNonce(nonceKey) : nonces.get(nonceKey);
        nonces.delete(nonceKey);
        if (exp === undefined)
          throw new Refusal(
            'NONCE_INVALID',
            'The nonce is unknown or was already used; get a fresh one from GET /tee/nonce.',
          );
        if (exp <= Date.now())
          throw new Refusal('NONCE_INVALID', 'The nonce has expired; get a fresh one from GET /tee/nonce.');

        // 5. The quote verifies and passes the SMS policy.
        const verdict = await timed('quote', () => verifier.verify(quote, req.collateral));
        if (verdict.enclave?.mrenclave) ctx.mrenclave = verdict.enclave.mrenclave;
        if (verdict.enclave?.mrsigner) ctx.mrsigner = verdict.enclave.mrsigner;
        if (!verdict.ok) throw new Refusal(verdict.code, verdict.reason);
        const enclave: VerifiedEnclave = verdict.enclave;

        // 6. REPORTDATA binds the session key to the nonce.
        const expected = sessionBinding(publicKeyBytes, nonceKey as Hex);
        const got = Buffer.from(enclave.reportData).subarray(0, 32);
        if (got.length !== 32 || !timingSafeEqual(got, expected))
          throw new Refusal(
            'REPORTDATA_MISMATCH',
            'REPORTDATA[0:32] is not sha256(publicKey ‖ nonce): the quote does not vouch for this key.',
          );

        // 7. MRENCLAVE is the app's on-chain fingerprint.
        const app = await timed('chain', () => chain.app(deal.app));
        const fp = app && parseAppMrEnclave(app.mrenclave);
        if (!app || !fp)
          throw new Refusal('APP_FINGERPRINT_INVALID', `App ${deal.app} has no SCONE fingerprint on chain.`);
        if (fp.mrenclave !== enclave.mrenclave.toLowerCase())
          throw new Refusal(
            'MRENCLAVE_MISMATCH',
            `MRENCLAVE ${enclave.mrenclave} is not the MrEnclave of app ${deal.app} (${fp.mrenclave}).`,
          );

        // 8. The secrets the deal needs exist.
        const params = parseParams(deal.params);
        const released: string[] = [];
        const t1 = performance.now();
        let dataset: SessionSecrets['dataset'] = null;
        if (deal.dataset.toLowerCase() !== ZERO_ADDRESS) {
          const ds = await timed('chain', () => chain.dataset(deal.dataset));
          if (!ds) throw new Refusal('DATASET_NOT_FOUND', `Dataset ${deal.dataset} is not on chain.`);
          const key = await openSecret({ kind: 'web3', owner: deal.dataset, name: '' });
          if (key === undefined)
            throw new Refusal('DATASET_KEY_MISSING', `No key was pushed for dataset ${deal.dataset}.`);
          dataset = { address: ds.address, name: ds.name, url: ds.multiaddr, checksum: ds.checksum, key };
          released.push(`dataset:${deal.dataset.toLowerCase()}`);
        }
        const requesterSecrets: Record<string, string> = {};
        for (const [index, name] of Object.entries(params.secrets)) {
          const v = await openSecret({ kind: 'requester', owner: deal.requester, name });
          if (v === undefined)
            throw new Refusal(
              'REQUESTER_SECRET_MISSING',
              `Requester ${deal.requester} has no secret named ${name} (iexec_secrets ${index}).`,
            );
          requesterSecrets[index] = v;
          released.push(`requester:${name}`);
        }
        const resultEncryptionKey =
          (await openSecret({ kind: 'web2', owner: deal.beneficiary, name: RESULT_ENCRYPTION_KEY_NAME })) ??
          null;
        if (params.resultEncryption && !resultEncryptionKey)
          throw new Refusal(
            'RESULT_KEY_MISSING',
            `The deal asks for result encryption but beneficiary ${deal.beneficiary} pushed no result key.`,
          );
        if (resultEncryptionKey) released.push('result-encryption-key');
        const developerSecret = await openSecret({
          kind: 'app',
          owner: deal.app,
          name: APP_DEVELOPER_SECRET_KEY,
        });
        if (developerSecret !== undefined) released.push('app-developer-secret');
        const fsKey = await openSecret({ kind: 'app', owner: deal.app, name: APP_FS_KEY_NAME });
        if (fsKey !== undefined) released.push('app-fs-key');
        const challengeKey = sealer.open(challenge.sealedKey, `challenge|${taskId}`).toString('utf8') as Hex;
        released.push('enclave-challenge-key', 'fspf-key');
        timings.secrets += performance.now() - t1;

        const payload: SessionSecrets = {
          version: 1,
          task: {
            id: taskId,
            dealId,
            index: taskIndex,
            requester: deal.requester,
            beneficiary: deal.beneficiary,
            workerWallet: a.workerWallet as Address,
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
            ...(fsKey !== undefined ? { fsKey } : {}),
            ...(developerSecret !== undefined ? { developerSecret } : {}),
          },
          dataset,
          requesterSecrets,
          resultEncryptionKey,
          enclaveChallenge: { address: challenge.address as Address, privateKey: challengeKey },
          issuedAt: new Date().toISOString(),
        };
        const jwe = await timed('encryption', () =>
          encryptToEnclave(payload, req.publicKey as SessionPublicJwk, taskId),
        );
        await audit({ ...ctx, secrets: released, verdict: 'released', code: null, reason: null });
        timings.sessions++;
        logger.debug('session timing', { taskId, ms: performance.now() - t0 });
        return { status: 200, response: { jwe, taskId, released } };
      } catch (e) {
        if (!(e instanceof Refusal)) {
          // Chain down (503) or an internal failure (500): nothing was released; record it too
          // (a fixed reason: an error message is not ours to copy into the audit log).
          const down = isChainUnavailable(e);
          await audit({
            ...ctx,
            secrets: [],
            verdict: 'refused',
            code: down ? 'CHAIN_UNAVAILABLE' : 'INTERNAL',
            reason: down
              ? 'The chain could not be read; nothing was released.'
              : 'Internal SMS error; nothing was released.',
          }).catch(() => {});
          throw e;
        }
        await audit({ ...ctx, secrets: [], verdict: 'refused', code: e.code, reason: e.reason });
        return { status: e.status, body: { error: { code: e.code, message: e.reason } } };
      }
    },
  };
}

export type ReleaseService = ReturnType<typeof createReleaseService>;

/** Is this string a 0x-prefixed 32-byte hex? */
export const isBytes32 = (v: unknown): v is Hex => typeof v === 'string' && isHex(v) && v.length === 66;
