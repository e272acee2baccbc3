import type { Address } from 'viem';
import { APP_FS_KEY_NAME } from '../protocol/index.js';
import { secretExists, type SmsTransport } from './transport.js';

/** Was the app's file-system key (encrypted regions) pushed? */
export function hasAppFsKey(t: SmsTransport, app: Address): Promise<boolean> {
  return secretExists(t, `/apps/${app}/secrets/${APP_FS_KEY_NAME}`);
}
