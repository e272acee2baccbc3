/**
 * Release receipts, SMS side: after every successful release the pipeline (release.ts) asks the
 * issuer for a receipt — the task, the enclave challenge, the enclave's identity and TCB status,
 * the quote's hash, the policy applied, the names of what was released, the time and the SMS's
 * evidence — signed with the SMS's attested key (src/protocol/receipt.ts), stored (one per task,
 * the latest release) and returned to the worker with the session.
 *
 * `GET /receipts/{taskId}` serves it to the task's requester and the dataset's owner: the
 * `Authorization` header is their EIP-191 signature of `receiptReadChallenge(taskId, timestamp)`
 * (src/protocol/challenges.ts), the timestamp (unix seconds) in `X-Sealwork-Timestamp`, accepted
 * within 5 minutes of the SMS clock. A signature seen by someone else could be replayed within
 * that window to read the same receipt; a receipt holds no secret value.
 */
import type { KeyObject } from 'node:crypto';
import { Hono } from 'hono';
import { zeroAddress, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { SealworkError } from '../errors.js';
import type { ChainReader } from '../chain/index.js';
import {
  RECEIPT_READ_WINDOW_SECONDS,
  RECEIPT_TYPE,
  RECEIPT_VERSION,
  canonicalHash,
  parseReceipt,
  quoteHash,
  receiptReadChallenge,
  signReceipt,
  spkiBase64,
  type ReceiptSmsEvidence,
  type ReleaseReceipt,
  type ReleaseReceiptBody,
} from '../protocol/index.js';
import type { ErrorRenderingEnv } from './http-errors.js';
import type { Logger } from './log.js';
import { chainSignature, recoverSigner } from './signature.js';
import type { SmsStore } from './store.js';
import { validate } from './validate.js';

/** What the release pipeline knows when it issues a receipt. */
export interface ReceiptFacts {
  task: ReleaseReceiptBody['task'];
  enclaveChallenge: Address;
  enclave: { mrenclave: string; mrsigner: string; tcbStatus?: string | undefined; simulated: boolean };
  quote: Uint8Array;
  released: string[];
}

export interface ReceiptIssuerOptions {
  store: SmsStore;
  /** The SMS's attested key (its TLS key): signs every receipt. */
  key: KeyObject;
  /** The SMS's evidence (certificate, quote, collateral), put in every receipt; null when none. */
  evidence?: () => ReceiptSmsEvidence | null;
  /** The SMS policy applied to enclaves (its summary and hash go in every receipt). */
  policy: Record<string, unknown>;
}

export interface ReceiptIssuer {
  /** Sign and store the receipt of a release. */
  issue(f: ReceiptFacts): Promise<ReleaseReceipt>;
}

export function createReceiptIssuer(o: ReceiptIssuerOptions): ReceiptIssuer {
  // The enclave identity this policy leaves open is pinned by the release to the app's fingerprint.
  const summary = { ...o.policy, mrenclave: "the app's on-chain fingerprint" };
  const policy = { hash: canonicalHash(summary), summary };
  const publicKey = spkiBase64(o.key);
  return {
    async issue(f) {
      const evidence = o.evidence?.() ?? null;
      const body: ReleaseReceiptBody = {
        type: RECEIPT_TYPE,
        version: RECEIPT_VERSION,
        task: f.task,
        enclaveChallenge: f.enclaveChallenge,
        enclave: {
          mrenclave: f.enclave.mrenclave.toLowerCase(),
          mrsigner: f.enclave.mrsigner.toLowerCase(),
          tcbStatus: f.enclave.tcbStatus ?? 'unknown',
          simulated: f.enclave.simulated,
          quoteHash: quoteHash(f.quote),
        },
        policy,
        released: f.released,
        issuedAt: new Date().toISOString(),
        // As JSON carries it: what is signed is exactly what a reader parses back.
        sms: {
          publicKey,
          evidence: evidence && (JSON.parse(JSON.stringify(evidence)) as ReceiptSmsEvidence),
        },
      };
      const receipt = signReceipt(body, o.key);
      await o.store.putReceipt(f.task.id, JSON.stringify(receipt));
      return receipt;
    },
  };
}

// ------------------------------------------------------------------ GET /receipts/{taskId}

export interface ReceiptRouteDeps {
  store: SmsStore;
  chain: ChainReader;
  logger: Logger;
  /** The SMS clock, in unix seconds (tests). */
  now?: () => number;
}

const TaskParam = z.object({
  taskId: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/)
    .transform((t) => t.toLowerCase() as Hex),
});

/** The wallet that signed a receipt read, once its timestamp is fresh and its signature well-formed. */
function readSigner(
  taskId: Hex,
  authorization: string | undefined,
  timestampHeader: string | undefined,
  nowSeconds: number,
): Address {
  if (!authorization || !timestampHeader)
    throw new SealworkError(
      'RECEIPT_AUTH_MISSING',
      'Reading a receipt needs an Authorization header (EIP-191 signature of the receipt-read challenge) and X-Sealwork-Timestamp.',
    );
  const ts = /^\d{1,12}$/.test(timestampHeader) ? Number(timestampHeader) : NaN;
  if (!Number.isSafeInteger(ts) || Math.abs(nowSeconds - ts) > RECEIPT_READ_WINDOW_SECONDS)
    throw new SealworkError(
      'RECEIPT_AUTH_EXPIRED',
      `X-Sealwork-Timestamp ${timestampHeader} is not within ${RECEIPT_READ_WINDOW_SECONDS} s of the SMS clock (${nowSeconds}).`,
      { details: { smsTime: nowSeconds } },
    );
  const sig = chainSignature(authorization);
  const signer = sig && recoverSigner(receiptReadChallenge(taskId, ts), sig);
  if (!signer)
    throw new SealworkError(
      'RECEIPT_AUTH_INVALID',
      'The Authorization header is not an EIP-191 signature of the receipt-read challenge.',
      { details: { expectedChallenge: receiptReadChallenge(taskId, ts) } },
    );
  return signer;
}

/** The `GET /receipts/{taskId}` route. */
export function receiptRoutes(d: ReceiptRouteDeps): Hono<ErrorRenderingEnv> {
  const app = new Hono<ErrorRenderingEnv>();
  const now = d.now ?? (() => Math.floor(Date.now() / 1000));
  app.get(
    '/receipts/:taskId',
    validate(
      'param',
      TaskParam,
      () => new SealworkError('TASK_ID_INVALID', 'The task id must be 0x + 64 hex characters.'),
    ),
    async (c) => {
      const { taskId } = c.req.valid('param');
      const signer = readSigner(
        taskId,
        c.req.header('Authorization'),
        c.req.header('X-Sealwork-Timestamp'),
        now(),
      );
      const text = await d.store.getReceipt(taskId);
      const parsed = text === undefined ? undefined : parseReceipt(text);
      if (!parsed?.ok)
        throw new SealworkError('RECEIPT_NOT_FOUND', `This SMS holds no release receipt for task ${taskId}.`);
      const { task } = parsed.receipt.body;
      const datasetOwner =
        task.dataset && task.dataset.toLowerCase() !== zeroAddress
          ? await d.chain.owner(task.dataset)
          : undefined;
      const allowed = [task.requester, datasetOwner].filter((a): a is Address => Boolean(a));
      if (!allowed.some((a) => a.toLowerCase() === signer.toLowerCase())) {
        d.logger.warn('receipt read refused', { taskId, signer });
        throw new SealworkError(
          'RECEIPT_FORBIDDEN',
          `${signer} is neither the requester of task ${taskId} nor the owner of its dataset.`,
          { details: { signer } },
        );
      }
      d.logger.info('receipt read', { taskId, signer });
      return c.json(parsed.receipt, 200, { 'Cache-Control': 'no-store' });
    },
  );
  return app;
}
