/** Shared by the asset reads: address checks, code checks, "not such an asset" errors, UTF-8 bytes. */
import { hexToString, isAddress, type Address, type Hex } from 'viem';
import { getCode } from 'viem/actions';
import { SealworkError } from '../../../errors.js';
import { decodeChainError } from '../../errors.js';
import type { ReadClient } from '../../types.js';

export function assertAddress(a: string, what: string): asserts a is Address {
  if (!isAddress(a, { strict: false }))
    throw new SealworkError('ADDRESS_INVALID', `${a} is not a valid ${what} address.`, {
      hint: 'Give a 0x-prefixed 20-byte hex address.',
    });
}

/** Bytes stored on chain as UTF-8 (iExec stores URLs as their bytes); the hex itself if not UTF-8. */
export function bytesText(b: Hex): string {
  try {
    return hexToString(b);
  } catch {
    return b;
  }
}

export async function hasCode(client: ReadClient, address: Address): Promise<boolean> {
  try {
    const code = await getCode(client, { address });
    return Boolean(code && code !== '0x');
  } catch (e) {
    throw decodeChainError(e); // e.g. CHAIN_UNREACHABLE, not an internal error
  }
}

export function notFound(kind: string, address: Address): SealworkError {
  return new SealworkError('ASSET_NOT_FOUND', `No ${kind} is deployed at ${address} on this chain.`, {
    hint: 'Check the address and the chain (--chain-url).',
    details: { address },
  });
}

/** A failed getter read: the chain is down (CHAIN_UNREACHABLE), or the address is not such an asset. */
export function notAsset(kind: string, address: Address, e: unknown): SealworkError {
  if (e instanceof SealworkError) return e;
  const decoded = decodeChainError(e);
  if (decoded.code === 'CHAIN_UNREACHABLE') return decoded;
  return new SealworkError('ASSET_NOT_FOUND', `${address} is not a sealwork ${kind}.`, {
    details: { address },
    cause: e,
  });
}
