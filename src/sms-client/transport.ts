/**
 * The SMS client's transport: one HTTP(S) request (node:http / node:https, so a self-signed SMS
 * certificate can be pinned with `ca`), and the mapping of SMS answers to SealworkErrors.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Hex, LocalAccount } from 'viem';
import { SealworkError, isErrorCode, type ErrorCode } from '../errors.js';
import { AttestedSmsAgent, type SmsAttestOptions } from './attestedAgent.js';
import type { SmsVerdict } from './verifySms.js';

export interface SmsClientOptions {
  /** PEM certificate(s) to trust (the SMS's self-signed certificate). */
  ca?: string | Buffer;
  /** Default 15 s. */
  timeoutMs?: number;
  /**
   * Attest the SMS before sending anything (RA-TLS): every connection's TLS key must be the key
   * the SMS's quote binds, and the quote must pass this pinned policy. `ca` is then not used.
   */
  attest?: SmsAttestOptions;
}

export interface SmsHttpResponse {
  status: number;
  text: string;
  json?: { error?: { code?: string; message?: string; [k: string]: unknown }; [k: string]: unknown };
}

/** Who signs a challenge: any viem local account. */
export type Signer = Pick<LocalAccount, 'address' | 'signMessage'>;

/** What every call is given: the SMS origin and a request function. */
export interface SmsTransport {
  /** The SMS origin (`https://host:port`). */
  url: string;
  request(
    method: string,
    path: string,
    body?: string,
    headers?: Record<string, string>,
  ): Promise<SmsHttpResponse>;
  /** With `attest`: the verdict of the SMS this transport talks to (after the first request). */
  attestation?(): SmsVerdict | undefined;
  /** With `attest`: close the kept-alive connections. */
  close?(): void;
}

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

function unreachable(origin: string, e: NodeJS.ErrnoException): SealworkError {
  return isTlsTrustError(e)
    ? new SealworkError(
        'SMS_TLS_UNTRUSTED',
        `The SMS at ${origin} presented a certificate this client does not trust.`,
        {
          hint: 'Pass the SMS certificate with --sms-ca <cert.pem> (sealwork sms start prints its path).',
          details: { url: origin },
          cause: e,
        },
      )
    : new SealworkError('SMS_UNREACHABLE', `The SMS at ${origin} cannot be reached: ${e.message}`, {
        hint: 'Start it with `sealwork sms start`, or pass --sms-url.',
        details: { url: origin },
        cause: e,
      });
}

export function createTransport(baseUrl: string, opts: SmsClientOptions = {}): SmsTransport {
  const base = new URL(baseUrl);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const agent = opts.attest ? new AttestedSmsAgent(opts.attest, base.origin, timeoutMs) : undefined;
  function request(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<SmsHttpResponse> {
    const url = new URL(path, base);
    const isHttps = url.protocol === 'https:';
    if (agent && !isHttps)
      return Promise.reject(
        new SealworkError(
          'SMS_NOT_ATTESTED',
          `The SMS at ${base.origin} is served over plain HTTP, which cannot be attested; nothing was sent.`,
          { hint: 'Use the https:// URL of an attested SMS (`sealwork sms start` serves attested TLS).' },
        ),
      );
    const req = isHttps ? httpsRequest : httpRequest;
    const bodyHeaders =
      body !== undefined
        ? {
            'content-type': headers['content-type'] ?? 'text/plain',
            'content-length': Buffer.byteLength(body),
          }
        : {};
    return new Promise((resolve, reject) => {
      const r = req(
        url,
        {
          method,
          headers: { ...bodyHeaders, ...headers },
          ...(agent ? { agent } : isHttps && opts.ca ? { ca: opts.ca } : {}),
          timeout: timeoutMs,
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
      r.on('timeout', () => r.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      r.on('error', (e: NodeJS.ErrnoException) =>
        reject(e instanceof SealworkError ? e : unreachable(base.origin, e)),
      );
      if (body !== undefined) r.write(body);
      r.end();
    });
  }
  return {
    url: base.origin,
    request,
    ...(agent ? { attestation: () => agent.lastVerdict, close: () => agent.destroy() } : {}),
  };
}

/** The SealworkError for a refused call (409 SECRET_EXISTS, 413 SECRET_TOO_LARGE, 401 SMS_UNAUTHORIZED, else the SMS's code). */
export function smsFailure(r: SmsHttpResponse, what: string): SealworkError {
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

/** `HEAD path`: 204/200 → true, 404 → false, else a SealworkError. */
export async function secretExists(t: SmsTransport, path: string): Promise<boolean> {
  const r = await t.request('HEAD', path);
  if (r.status === 204 || r.status === 200) return true;
  if (r.status === 404) return false;
  throw smsFailure(r, 'check the secret');
}

/** Push a secret with the EIP-191 signature of its challenge in the Authorization header. */
export async function signedPush(
  t: SmsTransport,
  p: { method: 'POST' | 'PUT'; path: string; value: string; challenge: Hex; account: Signer; what: string },
): Promise<void> {
  const authorization = await p.account.signMessage({ message: { raw: p.challenge } });
  const r = await t.request(p.method, p.path, p.value, { Authorization: authorization });
  if (r.status === 204 || r.status === 200) return;
  throw smsFailure(r, p.what);
}

export const q = encodeURIComponent;
