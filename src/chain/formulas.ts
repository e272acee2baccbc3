/**
 * iExec's result and authorization formulas (PoCo v5 contributeAndFinalize), as pure functions.
 * `‖` is abi.encodePacked. The SMS and the worker reuse these.
 *
 *   resultHash    = keccak256(taskid ‖ resultDigest)
 *   resultSeal    = keccak256(worker ‖ taskid ‖ resultDigest)
 *   enclave msg   = keccak256(resultHash ‖ resultSeal)        signed EIP-191 by the enclave challenge key
 *   authorization = keccak256(worker ‖ taskid ‖ enclaveChallenge)  signed EIP-191 by the workerpool owner
 */
import { encodePacked, keccak256, type Address, type Hex, type LocalAccount } from 'viem';

export function resultHash(taskid: Hex, resultDigest: Hex): Hex {
  return keccak256(encodePacked(['bytes32', 'bytes32'], [taskid, resultDigest]));
}

export function resultSeal(worker: Address, taskid: Hex, resultDigest: Hex): Hex {
  return keccak256(encodePacked(['address', 'bytes32', 'bytes32'], [worker, taskid, resultDigest]));
}

/** The 32-byte message the enclave challenge key signs (EIP-191 personal_sign over these bytes). */
export function enclaveMessage(worker: Address, taskid: Hex, resultDigest: Hex): Hex {
  return keccak256(
    encodePacked(
      ['bytes32', 'bytes32'],
      [resultHash(taskid, resultDigest), resultSeal(worker, taskid, resultDigest)],
    ),
  );
}

/** The 32-byte message the workerpool owner signs (EIP-191) to authorize a worker + enclave for a task. */
export function authorizationMessage(worker: Address, taskid: Hex, enclaveChallenge: Address): Hex {
  return keccak256(encodePacked(['address', 'bytes32', 'address'], [worker, taskid, enclaveChallenge]));
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

/** Enclave challenge key's signature of a result (EIP-191 over the raw 32 bytes). */
export function signEnclaveResult(
  enclave: LocalAccount,
  p: { worker: Address; taskid: Hex; resultDigest: Hex },
): Promise<Hex> {
  return enclave.signMessage({ message: { raw: enclaveMessage(p.worker, p.taskid, p.resultDigest) } });
}
