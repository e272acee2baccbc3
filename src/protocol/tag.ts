/** Order and deal tags (bytes32 bit sets). Bit 0 is TEE: the task must run in an enclave (SCONE). */
import { zeroHash, type Hex } from 'viem';

/** Bit 0 of a tag. */
export const TEE_TAG_BIT = 1n;
/** A tag with only the TEE bit set. */
export const TAG_TEE: Hex = `0x${'0'.repeat(63)}1`;
/**
 * TEE (bit 0) + TDX (bit 3): the tag the iexec SDK v9 puts on every order it creates. sealwork
 * honours it as "TEE" and runs its simulated SGX platform: bit 3 is carried, never acted on (there
 * is no TDX here). A workerpool order offering it matches both SDK 9 requests and sealwork's own.
 */
export const TAG_TEE_TDX: Hex = `0x${'0'.repeat(63)}9`;
/** The empty tag. */
export const TAG_NONE: Hex = zeroHash;

/** True when the tag has the TEE bit (bit 0): the one TEE-tag check of the worker, the SMS and the SDK. */
export function isTeeTag(tag: Hex): boolean {
  return (BigInt(tag) & TEE_TAG_BIT) === TEE_TAG_BIT;
}
