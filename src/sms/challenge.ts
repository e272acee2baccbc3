/**
 * `POST /tee/challenges/{taskId}`: the workerpool owner (EIP-191 signature of keccak256(taskId) in
 * the Authorization header) gets the enclave challenge address of an ACTIVE task of a TEE deal
 * (any other deal is refused, `DEAL_NOT_TEE`, as iexec-sms's `NO_MATCH_ONCHAIN_TYPE`). Its secp256k1 key is made
 * once per task, kept sealed, released only to the attested enclave, and deleted after the task's
 * final deadline.
 */
import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { SealworkError } from '../errors.js';
import type { ChainDealInfo, ChainReader } from '../chain/index.js';
import { isTeeTag, teeChallengeRequestHash } from '../protocol/index.js';
import { recoverChallengeSigner } from './signature.js';
import type { Logger } from './log.js';
import type { Sealer } from './sealing.js';
import type { SmsStore } from './store.js';

export interface ChallengeDeps {
  store: SmsStore;
  sealer: Sealer;
  chain: ChainReader;
  logger: Logger;
}

/** The additional data the challenge key is sealed under. */
export const challengeAad = (taskId: Hex) => `challenge|${taskId}`;

/** The workerpool owner: recorded in the deal (PoCo does), else read on chain. */
export async function workerpoolOwner(chain: ChainReader, deal: ChainDealInfo): Promise<Address | undefined> {
  return deal.workerpoolOwner ?? (await chain.owner(deal.workerpool));
}

/** The enclave challenge of an ACTIVE task for its workerpool owner: made on first ask, the same after. */
export async function enclaveChallenge(
  d: ChallengeDeps,
  taskId: Hex,
  authorization: string | undefined,
): Promise<Address> {
  const { store, sealer, chain, logger } = d;
  const task = await chain.task(taskId);
  if (!task || task.status !== 'ACTIVE')
    throw new SealworkError(
      'TASK_NOT_ACTIVE',
      `Task ${taskId} is ${task?.status ?? 'UNSET'}, not ACTIVE; initialize it first.`,
    );
  const deal = await chain.deal(task.dealId);
  // iexec-sms refuses a challenge for a task whose on-chain type is not TEE (NO_MATCH_ONCHAIN_TYPE):
  // an enclave challenge key exists only for a task an enclave may run.
  if (deal && !isTeeTag(deal.tag))
    throw new SealworkError(
      'DEAL_NOT_TEE',
      `Task ${taskId} belongs to deal ${task.dealId}, which does not have the TEE tag (bit 0): no enclave challenge.`,
    );
  const owner = deal && (await workerpoolOwner(chain, deal));
  const signer = authorization
    ? await recoverChallengeSigner(teeChallengeRequestHash(taskId), authorization)
    : undefined;
  if (!owner || !signer || signer.toLowerCase() !== owner.toLowerCase())
    throw new SealworkError(
      authorization ? 'SIGNATURE_INVALID' : 'AUTHORIZATION_MISSING',
      `The Authorization header must be the EIP-191 signature of keccak256(taskId) by the workerpool owner ${owner ?? '(unknown)'}.`,
      { details: { expectedSigner: owner ?? null } },
    );
  const existing = await store.getChallenge(taskId);
  if (existing) return existing.address as Address;
  const pk = generatePrivateKey();
  const stored = await store.putChallenge({
    taskId,
    address: privateKeyToAddress(pk),
    sealedKey: sealer.seal(pk, challengeAad(taskId)),
    finalDeadline: task.finalDeadline,
  });
  logger.info('enclave challenge created', {
    taskId,
    enclaveChallenge: stored.address,
    finalDeadline: task.finalDeadline,
  });
  return stored.address as Address;
}
