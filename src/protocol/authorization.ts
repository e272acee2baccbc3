/**
 * The workerpool authorization (PoCo `contributeAndFinalize`, iexec-sms `getChallengeForWorker`):
 * the workerpool owner (scheduler) signs, EIP-191 over the raw 32 bytes,
 *
 *   authorization = keccak256(workerWallet ‖ taskId ‖ enclaveChallenge)
 *
 * The worker signs it, the SMS and the hub verify it. The enclave challenge request (iexec-sms
 * 8.5.1+) is the same with an empty worker and enclave: `keccak256(taskId)`.
 */
import { concatHex, keccak256, type Address, type Hex, type LocalAccount } from 'viem';

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

/** Addresses are their 20 bytes: case does not matter (no checksum validation). */
const lower = (a: string): Hex => a.toLowerCase() as Hex;

/** `keccak256(workerWallet ‖ taskId ‖ enclaveChallenge)`. */
export function workerpoolAuthorizationHash(p: {
  workerWallet: Address | string;
  chainTaskId: Hex;
  enclaveChallenge: Address | string;
}): Hex {
  return keccak256(concatHex([lower(p.workerWallet), lower(p.chainTaskId), lower(p.enclaveChallenge)]));
}

/** {@link workerpoolAuthorizationHash} with positional arguments (the chain module's spelling). */
export function authorizationMessage(worker: Address, taskid: Hex, enclaveChallenge: Address): Hex {
  return workerpoolAuthorizationHash({ workerWallet: worker, chainTaskId: taskid, enclaveChallenge });
}

/** Workerpool owner's authorization signature (EIP-191 over the raw 32 bytes). */
export function signAuthorization(
  scheduler: LocalAccount,
  p: { worker: Address; taskid: Hex; enclaveChallenge: Address },
): Promise<Hex> {
  return scheduler.signMessage({
    message: { raw: authorizationMessage(p.worker, p.taskid, p.enclaveChallenge) },
  });
}

/** Enclave challenge request: `keccak256(taskId)`, signed EIP-191 by the workerpool owner. */
export function teeChallengeRequestHash(chainTaskId: Hex): Hex {
  return keccak256(lower(chainTaskId));
}
