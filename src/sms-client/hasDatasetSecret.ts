import type { Address } from 'viem';
import { q, secretExists, type SmsTransport } from './transport.js';

/** `HEAD /secrets/web3?secretAddress=`: was the dataset's key pushed? */
export function hasDatasetSecret(t: SmsTransport, dataset: Address): Promise<boolean> {
  return secretExists(t, `/secrets/web3?secretAddress=${q(dataset)}`);
}
