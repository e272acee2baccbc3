/**
 * The result formulas of PoCo v5 `contributeAndFinalize`, as pure functions. `‖` is
 * abi.encodePacked.
 *
 *   resultHash  = keccak256(taskid ‖ resultDigest)
 *   resultSeal  = keccak256(worker ‖ taskid ‖ resultDigest)
 *   enclave msg = keccak256(resultHash ‖ resultSeal)   signed EIP-191 by the enclave challenge key
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

/** Enclave challenge key's signature of a result (EIP-191 over the raw 32 bytes). */
export function signEnclaveResult(
  enclave: LocalAccount,
  p: { worker: Address; taskid: Hex; resultDigest: Hex },
): Promise<Hex> {
  return enclave.signMessage({ message: { raw: enclaveMessage(p.worker, p.taskid, p.resultDigest) } });
}
