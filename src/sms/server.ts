/**
 * Wire the SMS from its parts (store, sealer, chain reader, attestation verifier) and serve it over
 * HTTPS (or plain HTTP when no TLS material is given — tests of the HTTP layer only).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { SealworkError } from '../errors.js';
import { createSmsApp, type SmsApp } from './app.js';
import { cachedChainReader, type ChainReaderStats } from '../chain/index.js';
import { createReleaseService, type ReleaseDeps, type ReleaseService } from './release.js';
import { createReceiptIssuer } from './receipts.js';
import { createSecretApi, type SecretApi } from './secrets.js';
import type { ReceiptSmsEvidence } from '../protocol/index.js';
import { safeEqual, type Sealer } from './sealing.js';
import type { SmsStore } from './store.js';
import type { SmsEnclaveIdentity } from './enclave/identity.js';
import type { SmsEvidence } from '../sms-client/verifySms.js';

/** What the SMS hands on to the release service (and, but for the verifier, the secret API), plus its own options. */
export interface SmsDeps extends Pick<
  ReleaseDeps,
  'store' | 'sealer' | 'chain' | 'verifier' | 'logger' | 'nonceTtlMs' | 'nonceKey'
> {
  /** What this SMS enclave is (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN), from its launcher (EREPORT). */
  identity: SmsEnclaveIdentity;
  /**
   * The SMS's attested key (its TLS private key): signs the release receipts. Without it no
   * receipt is issued.
   */
  attestedKey?: KeyObject;
  /** The SMS's evidence put in every receipt (its certificate, quote and collateral). */
  smsEvidence?: () => ReceiptSmsEvidence | null;
  /** The SMS policy applied to enclaves, as receipts record it. */
  policy?: Record<string, unknown>;
  /** Cache immutable chain reads (default true). */
  cacheChain?: boolean;
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** What `GET /attestation` serves (RA-TLS evidence of the TLS key); absent: not attested. */
  evidence?: SmsEvidence;
}

/**
 * `GET /attestation`: the evidence, with an explicit Content-Length (clients read it off the raw
 * connection before they send anything else), or `{ attested: false }` (404) when the SMS serves
 * plain TLS (an operator certificate) or HTTP.
 */
function attestationRoute(app: SmsApp, evidence: SmsEvidence | undefined): void {
  const json = JSON.stringify(
    evidence
      ? { attested: true, ...evidence }
      : {
          attested: false,
          error: {
            code: 'SMS_NOT_ATTESTED',
            message:
              'This SMS serves plain TLS (an operator certificate) or HTTP: it cannot prove its identity. Sealwork clients send nothing to it.',
          },
        },
  );
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(json)),
    'cache-control': 'no-store',
  };
  app.get('/attestation', (c) => c.body(json, evidence ? 200 : 404, headers));
}

export interface Sms {
  identity: SmsEnclaveIdentity;
  app: SmsApp;
  secrets: SecretApi;
  release: ReleaseService;
  chainStats?: ChainReaderStats;
}

/** Check (or record, on first use) that the store was sealed under this master key. */
export async function checkMasterKey(store: SmsStore, sealer: Sealer): Promise<void> {
  const recorded = await store.getMeta('master_key_check');
  if (recorded === undefined) {
    await store.setMeta('master_key_check', sealer.keyCheck);
    return;
  }
  if (!safeEqual(recorded, sealer.keyCheck))
    throw new SealworkError(
      'SMS_MASTER_KEY_MISMATCH',
      'The SMS master key is not the one this database was sealed with.',
      {
        hint: 'Use the original master key file or SEALWORK_SMS_MASTER_KEY; without it the stored secrets cannot be opened.',
        details: { db: store.location },
      },
    );
}

export function createSms(d: SmsDeps): Sms {
  const cached = d.cacheChain === false ? undefined : cachedChainReader(d.chain);
  const chain = cached ?? d.chain;
  const secrets = createSecretApi({ store: d.store, sealer: d.sealer, logger: d.logger });
  const release = createReleaseService({
    store: d.store,
    sealer: d.sealer,
    chain,
    verifier: d.verifier,
    logger: d.logger,
    ...(d.nonceTtlMs !== undefined ? { nonceTtlMs: d.nonceTtlMs } : {}),
    ...(d.nonceKey ? { nonceKey: d.nonceKey } : {}),
    ...(d.attestedKey
      ? {
          receipts: createReceiptIssuer({
            store: d.store,
            key: d.attestedKey,
            policy: d.policy ?? {},
            ...(d.smsEvidence ? { evidence: d.smsEvidence } : {}),
          }),
        }
      : {}),
  });
  const app = createSmsApp({
    store: d.store,
    secrets,
    release,
    chain,
    logger: d.logger,
    ...(d.health ? { health: d.health } : {}),
  });
  attestationRoute(app, d.evidence);
  return { identity: d.identity, app, secrets, release, ...(cached ? { chainStats: cached.stats } : {}) };
}

export interface Listening {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serve a hono app on host:port (0 = a free port), with TLS when `tls` is given. */
export async function listen(
  app: SmsApp,
  opts: { host?: string; port?: number; tls?: { cert: string; key: string } },
): Promise<Listening> {
  const host = opts.host ?? '127.0.0.1';
  const listener = getRequestListener(app.fetch);
  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new SealworkError('PORT_IN_USE', `Port ${opts.port} on ${host} is already in use.`, {
              hint: 'Stop the other process or choose another --port.',
              details: { host, port: opts.port },
            })
          : e,
      );
    };
    server.once('error', onError);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${h}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
