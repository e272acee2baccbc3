import type { Address, Hex } from 'viem';
import { teeChallengeRequestHash } from '../protocol/index.js';
import { smsFailure, type Signer, type SmsTransport } from './transport.js';

/** `POST /tee/challenges/{taskId}`: the task's enclave challenge address (the workerpool owner signs keccak256(taskId)). */
export async function getEnclaveChallenge(
  t: SmsTransport,
  workerpoolOwner: Signer,
  taskId: Hex,
): Promise<Address> {
  const signature = await workerpoolOwner.signMessage({ message: { raw: teeChallengeRequestHash(taskId) } });
  const r = await t.request('POST', `/tee/challenges/${taskId}`, '', { Authorization: signature });
  if (r.status !== 200) throw smsFailure(r, `create the enclave challenge of task ${taskId}`);
  return r.text.trim() as Address;
}
