import { smsFailure, type SmsTransport } from './transport.js';

/** `GET /health`: the SMS's status (database, chain, hub). */
export async function health(t: SmsTransport): Promise<Record<string, unknown>> {
  const r = await t.request('GET', '/health');
  if (r.status !== 200 || !r.json) throw smsFailure(r, 'report health');
  return r.json;
}
