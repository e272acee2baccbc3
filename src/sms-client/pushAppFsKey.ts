import type { Address } from 'viem';
import { APP_FS_KEY_NAME, web2SecretChallenge } from '../protocol/index.js';
import { signedPush, type Signer, type SmsTransport } from './transport.js';

/** `POST /apps/{app}/secrets/sealwork-fs-key`: the app's file-system key, signed by the app owner. */
export function pushAppFsKey(t: SmsTransport, account: Signer, app: Address, value: string): Promise<void> {
  return signedPush(t, {
    method: 'POST',
    path: `/apps/${app}/secrets/${APP_FS_KEY_NAME}`,
    value,
    challenge: web2SecretChallenge(app, APP_FS_KEY_NAME, value),
    account,
    what: `store the file-system key of app ${app}`,
  });
}
