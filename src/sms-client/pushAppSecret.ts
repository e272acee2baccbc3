import type { Address } from 'viem';
import { APP_DEVELOPER_SECRET_KEY, web2SecretChallenge } from '../protocol/index.js';
import { signedPush, type Signer, type SmsTransport } from './transport.js';

/** `POST /apps/{app}/secrets`: the app developer secret, signed by the app owner. */
export function pushAppSecret(t: SmsTransport, account: Signer, app: Address, value: string): Promise<void> {
  return signedPush(t, {
    method: 'POST',
    path: `/apps/${app}/secrets`,
    value,
    challenge: web2SecretChallenge(app, APP_DEVELOPER_SECRET_KEY, value),
    account,
    what: `store the secret of app ${app}`,
  });
}
