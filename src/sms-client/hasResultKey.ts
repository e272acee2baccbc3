import type { Address } from 'viem';
import { RESULT_ENCRYPTION_KEY_NAME } from '../protocol/index.js';
import { q, secretExists, type SmsTransport } from './transport.js';

/** Did the beneficiary push a result-encryption key? */
export function hasResultKey(t: SmsTransport, beneficiary: Address): Promise<boolean> {
  return secretExists(
    t,
    `/secrets/web2?ownerAddress=${q(beneficiary)}&secretName=${q(RESULT_ENCRYPTION_KEY_NAME)}`,
  );
}
