import type { Address } from 'viem';
import { q, secretExists, type SmsTransport } from './transport.js';

/** `HEAD /requesters/{requester}/secrets/{name}`. */
export function hasRequesterSecret(t: SmsTransport, requester: Address, name: string): Promise<boolean> {
  return secretExists(t, `/requesters/${requester}/secrets/${q(name)}`);
}
