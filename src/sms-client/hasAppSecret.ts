import type { Address } from 'viem';
import { secretExists, type SmsTransport } from './transport.js';

/** `HEAD /apps/{app}/secrets`: was the app developer secret pushed? */
export function hasAppSecret(t: SmsTransport, app: Address): Promise<boolean> {
  return secretExists(t, `/apps/${app}/secrets`);
}
