import { SealworkError, isErrorCode } from '../errors.js';
import { workerpoolAuthorizationHash, type SessionRequest, type SessionResponse } from '../protocol/index.js';
import type { Signer, SmsTransport } from './transport.js';

/**
 * `POST /tee/sessions`: an attested session, signed by the worker named in the authorization (the
 * `Authorization` header is its EIP-191 signature of the authorization hash, as iexec-worker sends
 * it); a refusal throws a SealworkError whose code is the SMS's refusal code.
 */
export async function openSession(
  t: SmsTransport,
  worker: Signer,
  req: SessionRequest,
): Promise<SessionResponse> {
  const authorization = await worker.signMessage({
    message: { raw: workerpoolAuthorizationHash(req.authorization) },
  });
  const r = await t.request('POST', '/tee/sessions', JSON.stringify(req), {
    'content-type': 'application/json',
    Authorization: authorization,
  });
  if (r.status === 200 && r.json) return r.json as unknown as SessionResponse;
  const e = r.json?.error;
  const sent = e?.code;
  throw new SealworkError(
    isErrorCode(sent) ? sent : `SMS_HTTP_${r.status}`,
    `The SMS refused the session: ${e?.message ?? `HTTP ${r.status}`}`,
    { details: { status: r.status, ...(e ?? {}) } },
  );
}
