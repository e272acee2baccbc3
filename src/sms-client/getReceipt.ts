import type { Hex } from 'viem';
import { SealworkError } from '../errors.js';
import { parseReceipt, receiptReadChallenge, type ReleaseReceipt } from '../protocol/index.js';
import { smsFailure, type Signer, type SmsTransport } from './transport.js';

/**
 * `GET /receipts/{taskId}`: the release receipt of a task, read by its requester or its dataset's
 * owner (EIP-191 signature of `receiptReadChallenge(taskId, now)`, the time in
 * `X-Sealwork-Timestamp`). The receipt is returned as the SMS sent it: check it with
 * `verifyReceiptSignature` and the SMS's evidence before trusting it.
 */
export async function getReceipt(
  t: SmsTransport,
  reader: Signer,
  taskId: Hex,
  o: { now?: number } = {},
): Promise<ReleaseReceipt> {
  const ts = o.now ?? Math.floor(Date.now() / 1000);
  const signature = await reader.signMessage({ message: { raw: receiptReadChallenge(taskId, ts) } });
  const r = await t.request('GET', `/receipts/${taskId}`, undefined, {
    Authorization: signature,
    'X-Sealwork-Timestamp': String(ts),
  });
  if (r.status !== 200) throw smsFailure(r, `give the receipt of task ${taskId}`);
  const parsed = parseReceipt(r.json ?? r.text);
  if (!parsed.ok)
    throw new SealworkError('RECEIPT_INVALID', `The SMS sent a malformed receipt: ${parsed.reason}.`, {
      details: { taskId },
    });
  return parsed.receipt;
}
