import { RESULT_ENCRYPTION_KEY_NAME, web2SecretChallenge } from '../protocol/index.js';
import { q, signedPush, type Signer, type SmsTransport } from './transport.js';

/** Push the beneficiary's result-encryption public key (PEM; sent as base64 of the PEM, as iExec does). */
export function pushResultKey(
  t: SmsTransport,
  account: Signer,
  publicKeyPem: string,
  o: { update?: boolean } = {},
): Promise<void> {
  const value = Buffer.from(publicKeyPem, 'utf8').toString('base64');
  return signedPush(t, {
    method: o.update ? 'PUT' : 'POST',
    path: `/secrets/web2?ownerAddress=${q(account.address)}&secretName=${q(RESULT_ENCRYPTION_KEY_NAME)}`,
    value,
    challenge: web2SecretChallenge(account.address, RESULT_ENCRYPTION_KEY_NAME, value),
    account,
    what: 'store the result-encryption key',
  });
}
