import type { Hex } from 'viem';
import { smsFailure, type SmsTransport } from './transport.js';

/** `GET /tee/nonce`: a fresh single-use nonce for an attested session. */
export async function getNonce(t: SmsTransport): Promise<{ nonce: Hex; expiresAt: string }> {
  const r = await t.request('GET', '/tee/nonce');
  if (r.status !== 200 || !r.json) throw smsFailure(r, 'issue a nonce');
  return r.json as unknown as { nonce: Hex; expiresAt: string };
}
