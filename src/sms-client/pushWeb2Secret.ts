import { web2SecretChallenge } from '../protocol/index.js';
import { q, signedPush, type Signer, type SmsTransport } from './transport.js';

/** `POST /secrets/web2` (or `PUT` with `update`): a named secret of the signer. */
export function pushWeb2Secret(
  t: SmsTransport,
  account: Signer,
  name: string,
  value: string,
  o: { update?: boolean } = {},
): Promise<void> {
  return signedPush(t, {
    method: o.update ? 'PUT' : 'POST',
    path: `/secrets/web2?ownerAddress=${q(account.address)}&secretName=${q(name)}`,
    value,
    challenge: web2SecretChallenge(account.address, name, value),
    account,
    what: `store secret ${name}`,
  });
}
