/**
 * A client of the SMS (ours or iExec's for the secret API): pushes and checks secrets with the
 * iExec challenge signatures, gets enclave challenges and nonces, and opens attested sessions.
 * HTTPS via node:https so a self-signed SMS certificate can be pinned with `ca`.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Address, Hex, LocalAccount } from 'viem';
import { SealworkError, isErrorCode, type ErrorCode } from '../errors.js';
import {
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  RESULT_ENCRYPTION_KEY_NAME,
  teeChallengeRequestHash,
  web2SecretChallenge,
  web3SecretChallenge,
} from './formulas.js';
import type { SessionRequest, SessionResponse } from './release.js';

export interface SmsClientOptions {
  /** PEM certificate(s) to trust (the SMS's self-signed certificate). */
  ca?: string | Buffer;
  /** Default 15 s. */
  timeoutMs?: number;
}

export interface SmsHttpResponse {
  status: number;
  text: string;
  json?: { error?: { code?: string; message?: string; [k: string]: unknown }; [k: string]: unknown };
}

export type Signer = Pick<LocalAccount, 'address' | 'signMessage'>;

/**
 * OpenSSL's verification failures, as Node reports them in `err.code` (X509_V_ERR_* without the
 * prefix), and Node's own host-name check.
 */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Did the TLS handshake fail because the server's certificate is not trusted? (By errno code.) */
export function isTlsTrustError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && TLS_TRUST_CODES.has(code);
}

const sign = (account: Signer, challenge: Hex) => account.signMessage({ message: { raw: challenge } });

export function smsClient(baseUrl: string, opts: SmsClientOptions = {}) {
  const base = new URL(baseUrl);

  function request(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<SmsHttpResponse> {
    const url = new URL(path, base);
    const isHttps = url.protocol === 'https:';
    const req = isHttps ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(
        url,
        {
          method,
          headers: {
            ...(body !== undefined
              ? {
                  'content-type': headers['content-type'] ?? 'text/plain',
                  'content-length': Buffer.byteLength(body),
                }
              : {}),
            ...headers,
          },
          ...(isHttps && opts.ca ? { ca: opts.ca } : {}),
          timeout: opts.timeoutMs ?? 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: SmsHttpResponse['json'];
            if ((res.headers['content-type'] ?? '').includes('application/json') && text) {
              try {
                json = JSON.parse(text) as SmsHttpResponse['json'];
              } catch {
                json = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, text, ...(json ? { json } : {}) });
          });
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error(`timeout after ${opts.timeoutMs ?? 15_000} ms`)));
      r.on('error', (e: NodeJS.ErrnoException) => {
        const tls = isTlsTrustError(e);
        reject(
          tls
            ? new SealworkError(
                'SMS_TLS_UNTRUSTED',
                `The SMS at ${base.origin} presented a certificate this client does not trust.`,
                {
                  hint: 'Pass the SMS certificate with --sms-ca <cert.pem> (sealwork sms start prints its path).',
                  details: { url: base.origin },
                  cause: e,
                },
              )
            : new SealworkError(
                'SMS_UNREACHABLE',
                `The SMS at ${base.origin} cannot be reached: ${e.message}`,
                {
                  hint: 'Start it with `sealwork sms start`, or pass --sms-url.',
                  details: { url: base.origin },
                  cause: e,
                },
              ),
        );
      });
      if (body !== undefined) r.write(body);
      r.end();
    });
  }

  /** 204 → true, 404 → false, else a SealworkError. */
  async function exists(path: string): Promise<boolean> {
    const r = await request('HEAD', path);
    if (r.status === 204 || r.status === 200) return true;
    if (r.status === 404) return false;
    throw failure(r, 'check the secret');
  }

  function failure(r: SmsHttpResponse, what: string): SealworkError {
    const e = r.json?.error;
    const sent = e?.code;
    const code: ErrorCode =
      r.status === 409
        ? 'SECRET_EXISTS'
        : r.status === 413
          ? 'SECRET_TOO_LARGE'
          : r.status === 401
            ? 'SMS_UNAUTHORIZED'
            : isErrorCode(sent)
              ? sent
              : `SMS_HTTP_${r.status}`;
    const hint =
      r.status === 409
        ? 'This secret is immutable once pushed (web2 secrets can be updated with --update).'
        : r.status === 401 && e?.expectedSigner
          ? `Sign with the wallet of ${String(e.expectedSigner)}.`
          : undefined;
    return new SealworkError(code, `The SMS refused to ${what}: ${e?.message ?? `HTTP ${r.status}`}`, {
      ...(hint ? { hint } : {}),
      details: { status: r.status, ...(e ?? {}) },
    });
  }

  async function push(
    method: 'POST' | 'PUT',
    path: string,
    value: string,
    challenge: Hex,
    account: Signer,
    what: string,
  ): Promise<void> {
    const r = await request(method, path, value, { Authorization: await sign(account, challenge) });
    if (r.status === 204 || r.status === 200) return;
    throw failure(r, what);
  }

  const q = encodeURIComponent;

  return {
    url: base.origin,
    request,

    async health(): Promise<Record<string, unknown>> {
      const r = await request('GET', '/health');
      if (r.status !== 200 || !r.json) throw failure(r, 'report health');
      return r.json;
    },

    hasDatasetSecret: (dataset: Address) => exists(`/secrets/web3?secretAddress=${q(dataset)}`),
    pushDatasetSecret: (account: Signer, dataset: Address, key: string) =>
      push(
        'POST',
        `/secrets/web3?secretAddress=${q(dataset)}`,
        key,
        web3SecretChallenge(dataset, key),
        account,
        `store the key of dataset ${dataset}`,
      ),

    hasWeb2Secret: (owner: Address, name: string) =>
      exists(`/secrets/web2?ownerAddress=${q(owner)}&secretName=${q(name)}`),
    pushWeb2Secret: (account: Signer, name: string, value: string, o: { update?: boolean } = {}) =>
      push(
        o.update ? 'PUT' : 'POST',
        `/secrets/web2?ownerAddress=${q(account.address)}&secretName=${q(name)}`,
        value,
        web2SecretChallenge(account.address, name, value),
        account,
        `store secret ${name}`,
      ),

    hasResultKey: (beneficiary: Address) =>
      exists(`/secrets/web2?ownerAddress=${q(beneficiary)}&secretName=${q(RESULT_ENCRYPTION_KEY_NAME)}`),
    /** Push the beneficiary's result-encryption public key (PEM; sent as base64 of the PEM, as iExec does). */
    pushResultKey: (account: Signer, publicKeyPem: string, o: { update?: boolean } = {}) => {
      const value = Buffer.from(publicKeyPem, 'utf8').toString('base64');
      return push(
        o.update ? 'PUT' : 'POST',
        `/secrets/web2?ownerAddress=${q(account.address)}&secretName=${q(RESULT_ENCRYPTION_KEY_NAME)}`,
        value,
        web2SecretChallenge(account.address, RESULT_ENCRYPTION_KEY_NAME, value),
        account,
        'store the result-encryption key',
      );
    },

    hasAppSecret: (app: Address) => exists(`/apps/${app}/secrets`),
    pushAppSecret: (account: Signer, app: Address, value: string) =>
      push(
        'POST',
        `/apps/${app}/secrets`,
        value,
        web2SecretChallenge(app, APP_DEVELOPER_SECRET_KEY, value),
        account,
        `store the secret of app ${app}`,
      ),
    hasAppFsKey: (app: Address) => exists(`/apps/${app}/secrets/${APP_FS_KEY_NAME}`),
    pushAppFsKey: (account: Signer, app: Address, value: string) =>
      push(
        'POST',
        `/apps/${app}/secrets/${APP_FS_KEY_NAME}`,
        value,
        web2SecretChallenge(app, APP_FS_KEY_NAME, value),
        account,
        `store the file-system key of app ${app}`,
      ),

    hasRequesterSecret: (requester: Address, name: string) =>
      exists(`/requesters/${requester}/secrets/${q(name)}`),
    pushRequesterSecret: (account: Signer, name: string, value: string) =>
      push(
        'POST',
        `/requesters/${account.address}/secrets/${q(name)}`,
        value,
        web2SecretChallenge(account.address, name, value),
        account,
        `store requester secret ${name}`,
      ),

    /** The task's enclave challenge address (the workerpool owner signs keccak256(taskId)). */
    async getEnclaveChallenge(workerpoolOwner: Signer, taskId: Hex): Promise<Address> {
      const r = await request('POST', `/tee/challenges/${taskId}`, '', {
        Authorization: await sign(workerpoolOwner, teeChallengeRequestHash(taskId)),
      });
      if (r.status !== 200) throw failure(r, `create the enclave challenge of task ${taskId}`);
      return r.text.trim() as Address;
    },

    async getNonce(): Promise<{ nonce: Hex; expiresAt: string }> {
      const r = await request('GET', '/tee/nonce');
      if (r.status !== 200 || !r.json) throw failure(r, 'issue a nonce');
      return r.json as unknown as { nonce: Hex; expiresAt: string };
    },

    /** Open an attested session; a refusal throws a SealworkError whose code is the SMS's refusal code. */
    async openSession(req: SessionRequest): Promise<SessionResponse> {
      const r = await request('POST', '/tee/sessions', JSON.stringify(req), {
        'content-type': 'application/json',
      });
      if (r.status === 200 && r.json) return r.json as unknown as SessionResponse;
      const e = r.json?.error;
      const sent = e?.code;
      throw new SealworkError(
        isErrorCode(sent) ? sent : `SMS_HTTP_${r.status}`,
        `The SMS refused the session: ${e?.message ?? `HTTP ${r.status}`}`,
        {
          details: { status: r.status, ...(e ?? {}) },
        },
      );
    },
  };
}

export type SmsClient = ReturnType<typeof smsClient>;
