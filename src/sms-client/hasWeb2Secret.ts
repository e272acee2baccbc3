import type { Address } from 'viem';
import { q, secretExists, type SmsTransport } from './transport.js';

/** `HEAD /secrets/web2?ownerAddress=&secretName=`. */
export function hasWeb2Secret(t: SmsTransport, owner: Address, name: string): Promise<boolean> {
  return secretExists(t, `/secrets/web2?ownerAddress=${q(owner)}&secretName=${q(name)}`);
}
