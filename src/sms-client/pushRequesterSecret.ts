import { web2SecretChallenge } from '../protocol/index.js';
import { q, signedPush, type Signer, type SmsTransport } from './transport.js';

/** `POST /requesters/{signer}/secrets/{name}`: a requester secret, named in deals by `iexec_secrets`. */
export function pushRequesterSecret(
  t: SmsTransport,
  account: Signer,
  name: string,
  value: string,
): Promise<void> {
  return signedPush(t, {
    method: 'POST',
    path: `/requesters/${account.address}/secrets/${q(name)}`,
    value,
    challenge: web2SecretChallenge(account.address, name, value),
    account,
    what: `store requester secret ${name}`,
  });
}
