/** Order and deal tags (bytes32 bit sets). Bit 0 is TEE: the task must run in an enclave (SCONE). */
import { zeroHash, type Hex } from 'viem';

/** Bit 0 of a tag. */
export const TEE_TAG_BIT = 1n;
/** A tag with only the TEE bit set. */
export const TAG_TEE: Hex = `0x${'0'.repeat(63)}1`;
/** The empty tag. */
export const TAG_NONE: Hex = zeroHash;

/** True when the tag has the TEE bit (bit 0): the one TEE-tag check of the worker, the SMS and the SDK. */
export function isTeeTag(tag: Hex): boolean {
  return (BigInt(tag) & TEE_TAG_BIT) === TEE_TAG_BIT;
}
