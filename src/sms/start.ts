/**
 * `sealwork sms start`: master key, sealed store, chain reader, attestation verifier, TLS, HTTP —
 * from configuration. Writes `$SEALWORK_HOME/sms/sms.json` (URL, certificate path) so local
 * clients find it, and removes it on close.
 */
import cluster from 'node:cluster';
import { createPrivateKey, hkdfSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Address } from 'viem';
import { openSimPlatform, type PolicyInput, type TrustedRoot } from '../attestation/index.js';
import { createChainClients, createChainReader } from '../chain/index.js';
import { SealworkError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createAttestationVerifier } from './attestation-adapter.js';
import {
  enclaveConfig,
  readRecoveryPublicKey,
  resolveSmsPolicy,
  type RecoveryPublicKey,
  type SmsPolicyInput,
} from './enclave/config.js';
import type { SealPolicy, SmsEnclaveIdentity, SmsMeasurement } from './enclave/identity.js';
import { measureSms } from './enclave/measure.js';
import { identityOf } from './enclave/identity.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { createSealer, loadMasterKey } from './sealing.js';
import { checkMasterKey, createSms, listen, type Sms } from './server.js';
import { openStore, type SmsStore } from './store.js';
import { loadOrCreateTls } from '../util/tls.js';
import {
  attestedTlsFromPrimary,
  certificateHosts,
  createAttestedTls,
  serveAttestedTlsToWorkers,
  type AttestedTls,
} from './attested-tls.js';
import { readSmsRecord, smsRecordPath, type SmsRecord } from '../sms-client/smsRecord.js';

export interface StartSmsOptions {
  home: string;
  host?: string;
  /** 0 = a free port (default 13300). */
  port?: number;
  /** SQLite file path or postgres:// URL (default `$SEALWORK_HOME/sms/sms.db`). */
  db?: string;
  chainUrl?: string;
  /** Policy JSON file (mrenclave may be omitted: the app's on-chain fingerprint pins it). */
  policyFile?: string;
  /** Or the policy itself. */
  policy?: Omit<PolicyInput, 'mrenclave'> & { mrenclave?: string | string[] };
  /** Accept quotes of the simulated platform (SIM mode); sets the policy's allowSimulation. */
  allowSimulation?: boolean;
  /** Where the simulated platform lives (default `home`). */
  simPlatformHome?: string;
  /** Extra trust anchors for real quotes, besides the pinned Intel SGX Root CA (tests: Intel's QVL test root). */
  trustedRoots?: TrustedRoot[];
  /** The quote verification clock (default now): tests pin it to check recorded quotes with their collateral. */
  verificationTime?: () => Date;
  /**
   * An operator-provided certificate (e.g. behind a TLS-terminating load balancer): plain TLS,
   * NOT attested — sealwork clients refuse to send to it. Without it the SMS generates its TLS key
   * in memory and serves an attested (RA-TLS) certificate.
   */
  tlsCert?: string;
  tlsKey?: string;
  /** Serve plain HTTP (only for local tests behind another TLS terminator). */
  insecureHttp?: boolean;
  logger?: Logger;
  logLevel?: LogLevel;
  /** How often expired enclave challenges are deleted (default 60 s). */
  cleanupIntervalMs?: number;
  nonceTtlMs?: number;
  /**
   * Run as one process of a multi-process SMS (see startSmsCluster): nonces are shared (HMAC under
   * a key derived from the master key, single use recorded in the store) and the record file is
   * left to the primary.
   */
  clusterWorker?: boolean;
  /** The SMS signer's Ed25519 private key (PEM file; default: the dev key under the home). */
  signingKey?: string;
  /** ISVSVN (security version) and ISVPRODID signed with the measurement (default: the code's). */
  isvSvn?: number;
  isvProdId?: number;
  /** How the master key is sealed: MRSIGNER (default: upgrades by the same signer unseal) or MRENCLAVE. */
  sealPolicy?: SealPolicy;
  /** The operator's offline recovery public key (RSA PEM file): the master key is also encrypted to it. */
  recoveryKey?: string;
  /** The measurement made by the launcher (in the enclave); else the SMS measures itself in-process. */
  measurement?: SmsMeasurement;
}

/** Where a started SMS (one process or a cluster) serves, and what it serves from. */
export interface SmsEndpoint {
  url: string;
  port: number;
  /** The TLS certificate clients should trust (PEM), when TLS is on. */
  cert?: string;
  certPath?: string;
  fingerprint256?: string;
  db: string;
  chainUrl: string;
  hub: Address;
  policy: Record<string, unknown>;
  /** The attested TLS (key in memory, certificate, evidence); absent with --tls-cert or plain HTTP. */
  attested?: AttestedTls;
}

export interface RunningSms extends SmsEndpoint {
  /** What this SMS is: its identity and the manifest of what was measured. */
  measurement: SmsMeasurement;
  sms: Sms;
  store: SmsStore;
  close(): Promise<void>;
}

export const DEFAULT_SMS_PORT = 13300;

// The record clients find the SMS by is read by the client side (src/sms-client/smsRecord.ts).
export { readSmsRecord, smsRecordPath, type SmsRecord };
export const smsDir = (home: string) => join(home, 'sms');

/** The HMAC key of shared nonces: derived from the master key, the same in every SMS process. */
function deriveNonceKey(master: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'sealwork-sms-nonce-v1', 32));
}

/**
 * What startSms and startSmsCluster do first, in this order: the SMS directory, the policy (a bad
 * policy must fail before anything starts), then the master key, which is zeroed once the sealer
 * (and, with `deriveNonce`, the shared-nonce key) are derived from it.
 */
async function prepareSms(o: StartSmsOptions, deriveNonce: boolean) {
  const logger = o.logger ?? createLogger({ level: o.logLevel ?? 'info' });
  const dir = smsDir(o.home);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });

  const policy = await resolveSmsPolicy(o);
  const recoveryKey = o.recoveryKey ? await readRecoveryPublicKey(o.recoveryKey) : undefined;

  const master = await loadMasterKey(dir);
  if (master.created) logger.info('master key generated', { path: master.path });
  const sealer = createSealer(master.key);
  const nonceKey = deriveNonce ? deriveNonceKey(master.key) : undefined;
  master.key.fill(0);
  return { logger, dir, policy, recoveryKey, sealer, nonceKey, dbLocation: o.db ?? join(dir, 'sms.db') };
}

/** The SMS's measurement (MRENCLAVE over its bundle, runtime and this configuration; signed). */
function measureStartedSms(
  o: StartSmsOptions,
  c: { policy: SmsPolicyInput; chainId: number; hub: string; db: string; recoveryKey?: RecoveryPublicKey },
): Promise<SmsMeasurement> {
  if (o.measurement) return Promise.resolve(o.measurement);
  return measureSms({
    home: o.home,
    config: enclaveConfig({
      ...c,
      ...(o.sealPolicy ? { sealPolicy: o.sealPolicy } : {}),
      tls: o.insecureHttp ? 'none' : o.tlsCert ? 'operator' : 'generated',
    }),
    ...(o.signingKey ? { signingKey: o.signingKey } : {}),
    ...(o.isvSvn !== undefined ? { isvSvn: o.isvSvn } : {}),
    ...(o.isvProdId !== undefined ? { isvProdId: o.isvProdId } : {}),
  });
}

/** What the SMS serves TLS with: the attested key and certificate, or an operator's pair. */
interface ServedTls {
  cert: string;
  key: string;
  certPath: string;
  fingerprint256: string;
  attested?: AttestedTls;
  simRootPath?: string;
}

/**
 * The TLS the SMS serves, unless plain HTTP: `--tls-cert`/`--tls-key` (operator, unattested), or
 * a key generated in memory and quoted (attested; the certificate — public — is written to
 * `sms/tls/attested-cert.pem` for plain-TLS clients such as the iExec SDK). A cluster worker gets
 * the primary's attested key over IPC.
 */
async function smsTls(
  o: StartSmsOptions,
  dir: string,
  identity: SmsEnclaveIdentity,
): Promise<ServedTls | undefined> {
  if (o.insecureHttp) return undefined;
  if (o.tlsCert || o.tlsKey) {
    const m = await loadOrCreateTls({
      dir: join(dir, 'tls'),
      ...(o.tlsCert ? { certPath: o.tlsCert } : {}),
      ...(o.tlsKey ? { keyPath: o.tlsKey } : {}),
    });
    return { cert: m.cert, key: m.key, certPath: m.certPath, fingerprint256: m.fingerprint256 };
  }
  const simHome = o.simPlatformHome ?? o.home;
  // A forked worker of `startSmsCluster` serves the primary's key (one attested key per SMS).
  const attested =
    o.clusterWorker && cluster.isWorker
      ? await attestedTlsFromPrimary()
      : await createAttestedTls({
          identity,
          platform: await openSimPlatform(simHome),
          hosts: certificateHosts(o.host ?? '127.0.0.1'),
        });
  const certPath = join(dir, 'tls', 'attested-cert.pem');
  if (!o.clusterWorker) {
    await fs.mkdir(join(dir, 'tls'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(certPath, attested.cert, { force: true, mode: 0o644 });
  }
  return {
    cert: attested.cert,
    key: attested.keyPem,
    certPath,
    fingerprint256: attested.fingerprint256,
    attested,
    simRootPath: join(simHome, 'sim-platform', 'root.pem'),
  };
}

/** Write the record file local clients find the SMS by (URL, this pid, certificate, identity). */
async function writeSmsRecord(home: string, url: string, tls: ServedTls | undefined): Promise<void> {
  const id = tls?.attested?.identity;
  const record: SmsRecord = {
    url,
    pid: process.pid,
    ...(tls?.certPath ? { certPath: tls.certPath } : {}),
    ...(tls ? { fingerprint256: tls.fingerprint256 } : {}),
    startedAt: new Date().toISOString(),
    ...(id
      ? {
          attestation: {
            mrEnclave: id.mrEnclave,
            mrSigner: id.mrSigner,
            simulated: tls?.attested?.evidence.simulated ?? true,
            ...(tls?.simRootPath ? { simRootPath: tls.simRootPath } : {}),
          },
        }
      : { unattested: true as const }),
  };
  await writeFileAtomic(smsRecordPath(home), `${JSON.stringify(record, null, 2)}\n`, {
    force: true,
    mode: 0o644,
  });
}

export async function startSms(o: StartSmsOptions): Promise<RunningSms> {
  const { logger, dir, policy, recoveryKey, sealer, nonceKey, dbLocation } = await prepareSms(
    o,
    Boolean(o.clusterWorker),
  );
  const store = await openStore(dbLocation);
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    await checkMasterKey(store, sealer);
    const clients = await createChainClients({
      home: o.home,
      ...(o.chainUrl ? { chainUrl: o.chainUrl } : {}),
    });
    // Task status (read fresh for every session) over a raw, batched, keep-alive eth_call.
    const chain = createChainReader({
      url: clients.url,
      chainId: clients.chain.id,
      hub: clients.deployment.hub,
      taskTransport: 'raw',
    });
    closers.push(async () => chain.close());
    const measurement = await measureStartedSms(o, {
      policy,
      chainId: clients.chain.id,
      hub: clients.deployment.hub,
      db: store.kind,
      ...(recoveryKey ? { recoveryKey } : {}),
    });
    const simulationRoot = policy.allowSimulation
      ? (await openSimPlatform(o.simPlatformHome ?? o.home)).trustedRoot
      : undefined;
    const verifier = createAttestationVerifier({
      policy,
      ...(simulationRoot ? { simulationRoot } : {}),
      ...(o.trustedRoots ? { trustedRoots: o.trustedRoots } : {}),
      ...(o.verificationTime ? { at: o.verificationTime } : {}),
    });
    const tls = await smsTls(o, dir, identityOf(measurement));
    const sms = createSms({
      identity: identityOf(measurement),
      store,
      sealer,
      chain,
      verifier,
      logger,
      policy,
      // Receipts are signed with the SMS's attested TLS key and carry its RA-TLS evidence (an
      // operator's certificate: its key, and no quote — not attested).
      ...(tls
        ? {
            attestedKey: tls.attested ? tls.attested.key : createPrivateKey(tls.key),
            smsEvidence: () =>
              tls.attested?.evidence ?? {
                certificate: tls.cert,
                quote: '',
                collateral: null,
                simulated: false,
              },
          }
        : {}),
      ...(tls?.attested ? { evidence: tls.attested.evidence } : {}),
      ...(o.nonceTtlMs !== undefined ? { nonceTtlMs: o.nonceTtlMs } : {}),
      ...(nonceKey ? { nonceKey } : {}),
      health: () => ({
        db: store.kind,
        chainId: clients.chain.id,
        hub: clients.deployment.hub,
        simulation: Boolean(policy.allowSimulation),
        enclave: identityOf(measurement),
        attestedTls: Boolean(tls?.attested),
      }),
    });
    const listening = await listen(sms.app, {
      host: o.host ?? '127.0.0.1',
      port: o.port ?? DEFAULT_SMS_PORT,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
    });
    closers.push(() => listening.close());
    const timer = setInterval(() => {
      sms.release
        .cleanup()
        .catch((e) => logger.error('challenge cleanup failed', { error: (e as Error).message }));
    }, o.cleanupIntervalMs ?? 60_000);
    timer.unref();
    closers.push(async () => clearInterval(timer));
    await sms.release.cleanup();
    if (!o.clusterWorker) {
      await writeSmsRecord(o.home, listening.url, tls);
      closers.push(async () => {
        const cur = await readSmsRecord(o.home);
        if (cur?.pid === process.pid && cur.url === listening.url)
          await fs.rm(smsRecordPath(o.home), { force: true });
      });
    }
    logger.info(o.clusterWorker ? 'sms worker started' : 'sms started', {
      url: listening.url,
      pid: process.pid,
      db: store.location,
      chainUrl: clients.url,
      hub: clients.deployment.hub,
      tls: Boolean(tls),
      certPath: tls?.certPath,
      simulation: Boolean(policy.allowSimulation),
    });
    let closed: Promise<void> | undefined;
    return {
      url: listening.url,
      port: listening.port,
      ...(tls ? { cert: tls.cert, certPath: tls.certPath, fingerprint256: tls.fingerprint256 } : {}),
      ...(tls?.attested ? { attested: tls.attested } : {}),
      db: store.location,
      chainUrl: clients.url,
      hub: clients.deployment.hub,
      policy,
      measurement,
      sms,
      store,
      close() {
        closed ??= closeAll().then(() => logger.info('sms stopped', { url: listening.url }));
        return closed;
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

export interface SmsCluster extends SmsEndpoint {
  workers: number;
  close(): Promise<void>;
}

/**
 * Primary of a multi-process SMS (node:cluster): prepares what must exist once (policy check,
 * master key, schema, TLS certificate), forks `workers` processes that re-run this command and
 * serve the same port (each calls `startSms({ clusterWorker: true })`), replaces a worker that
 * dies, and writes the record file. `close()` stops the workers gracefully (SIGTERM).
 */
export async function startSmsCluster(o: StartSmsOptions & { workers: number }): Promise<SmsCluster> {
  if (!cluster.isPrimary) throw new Error('startSmsCluster must run in the primary process');
  const { logger, dir, policy, recoveryKey, sealer, dbLocation } = await prepareSms(o, false);
  const store = await openStore(dbLocation);
  const dbKind = store.kind;
  try {
    await checkMasterKey(store, sealer);
  } finally {
    await store.close();
  }
  const clients = await createChainClients({ home: o.home, ...(o.chainUrl ? { chainUrl: o.chainUrl } : {}) });
  if (policy.allowSimulation) await openSimPlatform(o.simPlatformHome ?? o.home);
  // The one attested key of the SMS: quoted with the measurement the workers also make.
  const measurement = await measureStartedSms(o, {
    policy,
    chainId: clients.chain.id,
    hub: clients.deployment.hub,
    db: dbKind,
    ...(recoveryKey ? { recoveryKey } : {}),
  });
  const tls = await smsTls(o, dir, identityOf(measurement));
  const stopHandingKey = tls?.attested ? serveAttestedTlsToWorkers(tls.attested) : () => {};

  let closing = false;
  const live = new Set<import('node:cluster').Worker>();
  let port = 0;
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    let listening = 0;
    cluster.on('listening', (_w, address) => {
      port = address.port;
      if (++listening === o.workers) resolveReady();
    });
    cluster.on('exit', (w, code, signal) => {
      live.delete(w);
      if (closing) return;
      if (listening < o.workers) {
        rejectReady(
          new SealworkError(
            'SMS_WORKER_FAILED',
            `An SMS worker process exited while starting (code ${code}, signal ${signal}).`,
          ),
        );
        return;
      }
      logger.error('sms worker died; starting another', { pid: w.process.pid, code, signal });
      live.add(cluster.fork());
    });
  });
  for (let i = 0; i < o.workers; i++) live.add(cluster.fork());
  await ready.catch(async (e) => {
    closing = true;
    for (const w of live) w.process.kill('SIGTERM');
    throw e;
  });
  const host = o.host ?? '127.0.0.1';
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await writeSmsRecord(o.home, url, tls);
  logger.info('sms started', {
    url,
    workers: o.workers,
    db: store.location,
    chainUrl: clients.url,
    hub: clients.deployment.hub,
  });
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    ...(tls ? { cert: tls.cert, certPath: tls.certPath, fingerprint256: tls.fingerprint256 } : {}),
    db: store.location,
    chainUrl: clients.url,
    hub: clients.deployment.hub,
    policy,
    ...(tls?.attested ? { attested: tls.attested } : {}),
    workers: o.workers,
    close() {
      closed ??= (async () => {
        closing = true;
        stopHandingKey();
        const exits = [...live].map(
          (w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))),
        );
        for (const w of live) w.process.kill('SIGTERM');
        await Promise.all(exits);
        const cur = await readSmsRecord(o.home);
        if (cur?.pid === process.pid) await fs.rm(smsRecordPath(o.home), { force: true });
        logger.info('sms stopped', { url });
      })();
      return closed;
    },
  };
}
