import type { Address } from 'viem';
import { web3SecretChallenge } from '../protocol/index.js';
import { q, signedPush, type Signer, type SmsTransport } from './transport.js';

/** `POST /secrets/web3`: the dataset's key, signed by its owner (immutable once pushed). */
export function pushDatasetSecret(
  t: SmsTransport,
  account: Signer,
  dataset: Address,
  key: string,
): Promise<void> {
  return signedPush(t, {
    method: 'POST',
    path: `/secrets/web3?secretAddress=${q(dataset)}`,
    value: key,
    challenge: web3SecretChallenge(dataset, key),
    account,
    what: `store the key of dataset ${dataset}`,
  });
}
