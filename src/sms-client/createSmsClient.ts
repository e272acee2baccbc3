/**
 * A client of the SMS (ours, or iExec's for the secret API): one transport and every call bound
 * to it, as methods. Each call is also a function of its own (`pushWeb2Secret(transport, …)`),
 * one per file in this folder.
 */
import type { Address, Hex } from 'viem';
import type { SessionRequest } from '../protocol/index.js';
import { getEnclaveChallenge } from './getEnclaveChallenge.js';
import { getNonce } from './getNonce.js';
import { getReceipt } from './getReceipt.js';
import { hasAppFsKey } from './hasAppFsKey.js';
import { hasAppSecret } from './hasAppSecret.js';
import { hasDatasetSecret } from './hasDatasetSecret.js';
import { hasRequesterSecret } from './hasRequesterSecret.js';
import { hasResultKey } from './hasResultKey.js';
import { hasWeb2Secret } from './hasWeb2Secret.js';
import { health } from './health.js';
import { openSession } from './openSession.js';
import { pushAppFsKey } from './pushAppFsKey.js';
import { pushAppSecret } from './pushAppSecret.js';
import { pushDatasetSecret } from './pushDatasetSecret.js';
import { pushRequesterSecret } from './pushRequesterSecret.js';
import { pushResultKey } from './pushResultKey.js';
import { pushWeb2Secret } from './pushWeb2Secret.js';
import { createTransport, type Signer, type SmsClientOptions } from './transport.js';

export function createSmsClient(baseUrl: string, opts: SmsClientOptions = {}) {
  const t = createTransport(baseUrl, opts);
  return {
    url: t.url,
    request: t.request,
    /** With `attest`: what the SMS proved on the connections used so far (undefined before the first request). */
    attestation: () => t.attestation?.(),
    /** With `attest`: check the SMS now (one round trip on a new connection) and return its verdict. */
    verify: async () => {
      await health(t);
      return t.attestation?.();
    },
    /** Close kept-alive connections (attested clients keep them to reuse the verdict). */
    close: () => t.close?.(),
    health: () => health(t),
    hasDatasetSecret: (dataset: Address) => hasDatasetSecret(t, dataset),
    pushDatasetSecret: (account: Signer, dataset: Address, key: string) =>
      pushDatasetSecret(t, account, dataset, key),
    hasWeb2Secret: (owner: Address, name: string) => hasWeb2Secret(t, owner, name),
    pushWeb2Secret: (account: Signer, name: string, value: string, o: { update?: boolean } = {}) =>
      pushWeb2Secret(t, account, name, value, o),
    hasResultKey: (beneficiary: Address) => hasResultKey(t, beneficiary),
    pushResultKey: (account: Signer, publicKeyPem: string, o: { update?: boolean } = {}) =>
      pushResultKey(t, account, publicKeyPem, o),
    hasAppSecret: (app: Address) => hasAppSecret(t, app),
    pushAppSecret: (account: Signer, app: Address, value: string) => pushAppSecret(t, account, app, value),
    hasAppFsKey: (app: Address) => hasAppFsKey(t, app),
    pushAppFsKey: (account: Signer, app: Address, value: string) => pushAppFsKey(t, account, app, value),
    hasRequesterSecret: (requester: Address, name: string) => hasRequesterSecret(t, requester, name),
    pushRequesterSecret: (account: Signer, name: string, value: string) =>
      pushRequesterSecret(t, account, name, value),
    getEnclaveChallenge: (workerpoolOwner: Signer, taskId: Hex) =>
      getEnclaveChallenge(t, workerpoolOwner, taskId),
    getNonce: () => getNonce(t),
    /** The worker named in `req.authorization` signs the request. */
    openSession: (worker: Signer, req: SessionRequest) => openSession(t, worker, req),
    /** The task's requester or dataset owner reads its release receipt. */
    getReceipt: (reader: Signer, taskId: Hex, o: { now?: number } = {}) => getReceipt(t, reader, taskId, o),
  };
}

export type SmsClient = ReturnType<typeof createSmsClient>;
