/** The named dev accounts of the embedded chain (anvil's deterministic keys). */
import type { PrivateKeyAccount } from 'viem';
import { devAccountByName } from '../../chain/index.js';

/**
 * The dev account `name` of the embedded chain: app-dev, dataset-owner, workerpool, requester,
 * worker or enclave. Throws DEV_ACCOUNT_UNKNOWN for another name.
 */
export function devAccount(name: string): PrivateKeyAccount {
  return devAccountByName(name);
}
