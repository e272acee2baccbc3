import { SealworkError, isErrorCode } from '../errors.js';
import type { SessionRequest, SessionResponse } from '../protocol/index.js';
import type { SmsTransport } from './transport.js';

/** `POST /tee/sessions`: an attested session; a refusal throws a SealworkError whose code is the SMS's refusal code. */
export async function openSession(t: SmsTransport, req: SessionRequest): Promise<SessionResponse> {
  const r = await t.request('POST', '/tee/sessions', JSON.stringify(req), {
    'content-type': 'application/json',
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
