/**
 * How the SMS answers an error, declared once: the HTTP status of each stable code it refuses
 * with, and the JSON body clients get (`{ error: { code, message, …details } }`, as iexec-sms).
 * Domain code throws `SealworkError`s; `app.onError` renders them with `renderError`. An error
 * whose code is not listed here is not the client's business: it is answered 500 INTERNAL (or 503
 * CHAIN_UNAVAILABLE when the chain could not be read, 503 SMS_STORE_UNAVAILABLE when the database
 * could not be), with a fixed message.
 */
import { STATUS_CODES } from 'node:http';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { SealworkError, isSealworkError } from '../errors.js';
import { isChainUnavailable } from '../chain/index.js';
import type { Logger } from './log.js';

/** The HTTP status of every code the SMS answers with. */
export const HTTP_STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  // requests the SMS cannot read
  ADDRESS_INVALID: 400,
  SECRET_NAME_INVALID: 400,
  DATASET_KEY_INVALID: 400,
  RESULT_KEY_INVALID: 400,
  TASK_ID_INVALID: 400,
  SESSION_REQUEST_INVALID: 400,
  SECRET_TOO_LARGE: 413,
  SESSION_REQUEST_TOO_LARGE: 413,
  // who may push or ask
  AUTHORIZATION_MISSING: 401,
  SIGNATURE_INVALID: 401,
  SIGNER_UNKNOWN: 401,
  // a push signature already accepted once (replay, or reuse on another endpoint)
  SIGNATURE_REUSED: 403,
  // secrets: never read back, immutable once pushed (but web2 ones, by PUT)
  METHOD_NOT_ALLOWED: 405,
  SECRET_NOT_FOUND: 404,
  SECRET_EXISTS: 409,
  NOT_FOUND: 404,
  // attested release: every refusal of a session is 403
  TASK_NOT_ACTIVE: 403,
  TASK_MISMATCH: 403,
  DEAL_NOT_FOUND: 403,
  DEAL_NOT_TEE: 403,
  AUTHORIZATION_INVALID: 403,
  WORKER_SIGNATURE_MISSING: 403,
  WORKER_SIGNATURE_INVALID: 403,
  ENCLAVE_CHALLENGE_UNKNOWN: 403,
  NONCE_INVALID: 403,
  QUOTE_INVALID: 403,
  QUOTE_ROOT_UNTRUSTED: 403,
  ENCLAVE_DEBUG: 403,
  POLICY_REFUSED: 403,
  REPORTDATA_MISMATCH: 403,
  APP_FINGERPRINT_INVALID: 403,
  MRENCLAVE_MISMATCH: 403,
  DATASET_NOT_FOUND: 403,
  DATASET_KEY_MISSING: 403,
  REQUESTER_SECRET_MISSING: 403,
  RESULT_KEY_MISSING: 403,
  // release receipts
  RECEIPT_AUTH_MISSING: 401,
  RECEIPT_AUTH_INVALID: 401,
  RECEIPT_AUTH_EXPIRED: 401,
  RECEIPT_FORBIDDEN: 403,
  RECEIPT_NOT_FOUND: 404,
};

/**
 * The one endpoint that answers a code with another status: an enclave challenge asked for a task
 * that is not ACTIVE is an authorization failure there (401), as in iexec-sms.
 */
export const CHALLENGE_HTTP_STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  TASK_NOT_ACTIVE: 401,
};

/** Is this an error the SMS answers with its own code and message (a refusal, not a failure)? */
export function isRefusal(e: unknown): e is SealworkError {
  return e instanceof SealworkError && Object.hasOwn(HTTP_STATUS, e.code);
}

/**
 * Failures that are no refusal but a part the SMS depends on being out of reach: answered 503 with a
 * fixed message (the error's own may name hosts), and audited under that code.
 */
export const UNAVAILABLE: Readonly<Record<'CHAIN_UNAVAILABLE' | 'SMS_STORE_UNAVAILABLE', string>> = {
  CHAIN_UNAVAILABLE: 'The SMS cannot read the chain right now; retry later.',
  SMS_STORE_UNAVAILABLE: 'The SMS database cannot be reached right now; nothing was written; retry later.',
};

/** Which part is out of reach, when `e` is such a failure (the chain, or the SMS database). */
export function unavailable(e: unknown): keyof typeof UNAVAILABLE | undefined {
  if (isChainUnavailable(e)) return 'CHAIN_UNAVAILABLE';
  if (isSealworkError(e, 'SMS_STORE_UNAVAILABLE')) return 'SMS_STORE_UNAVAILABLE';
  return undefined;
}

/** The JSON body of an error, as clients have always received it. */
export const errorBody = (code: string, message: string, details?: Record<string, unknown>) => ({
  error: { code, message, ...(details ?? {}) },
});

/**
 * The HTTP reason phrase of a refusal: the standard one, then the code and the message
 * ("Bad Request - RESULT_KEY_INVALID: …"). The iexec SDK reads no body of an SMS error it does
 * not expect: it prints "SMS answered with unexpected status: <status> <statusText>", so this is
 * the only place its user can see why. Printable ASCII only, at most 200 characters.
 */
export function reasonPhrase(status: number, code: string, message: string): string {
  const text = `${STATUS_CODES[status] ?? 'Error'} - ${code}: ${message}`;
  const clean = text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

/** Set the reason phrase on the Node response behind a hono context (no-op elsewhere, e.g. HTTP/2). */
function setReasonPhrase(c: Context, phrase: string): void {
  const out = (c.env as { outgoing?: { statusMessage?: string } } | undefined)?.outgoing;
  if (out && typeof out === 'object' && !('stream' in out)) out.statusMessage = phrase;
}

/** Variables a route may set to change how its errors are rendered. */
export interface ErrorRenderingEnv {
  Variables: { httpStatus?: Readonly<Record<string, ContentfulStatusCode>> };
}

/** `app.onError`: every SealworkError with its HTTP status; anything else 503 or 500, logged. */
export function renderError(logger: Logger) {
  return (e: Error, c: Context<ErrorRenderingEnv>): Response => {
    if (isRefusal(e)) {
      const status = c.get('httpStatus')?.[e.code] ?? HTTP_STATUS[e.code]!;
      setReasonPhrase(c, reasonPhrase(status, e.code, e.shortMessage));
      // HEAD (does this secret exist?) is answered by the status alone.
      if (c.req.method === 'HEAD') return c.body(null, status);
      return c.json(errorBody(e.code, e.shortMessage, e.details), status);
    }
    const down = unavailable(e);
    if (down) {
      logger.error(down === 'CHAIN_UNAVAILABLE' ? 'chain unavailable' : 'database unavailable', {
        path: c.req.path,
        error: e.message,
      });
      if (c.req.method === 'HEAD') return c.body(null, 503);
      return c.json(errorBody(down, UNAVAILABLE[down]), 503);
    }
    logger.error('internal error', {
      path: c.req.path,
      error: e.message,
      code: (e as { code?: string }).code,
    });
    return c.json(errorBody('INTERNAL', 'Internal SMS error.'), 500);
  };
}
