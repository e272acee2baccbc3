/**
 * The SMS's attested TLS (RA-TLS): at start the SMS generates its TLS key (P-256, node:crypto)
 * in its own memory — it is never written to disk — and asks the (simulated) platform for a quote
 * of its own identity with REPORTDATA = sha256(SPKI DER of that key) ‖ 32 zero bytes. The
 * self-signed certificate carries the quote and the collateral's digest in X.509 extensions
 * (src/attestation/ratls.ts), and `GET /attestation` serves the evidence (certificate, quote,
 * collateral) so a client verifies it before it sends anything (src/sms-client/verifySms.ts).
 *
 * An operator-provided certificate (`--tls-cert/--tls-key`, e.g. behind a TLS-terminating load
 * balancer) is plain TLS: it is NOT attested, `/attestation` says so and sealwork clients refuse
 * to send secrets over it.
 */
import cluster, { type Worker } from 'node:cluster';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  buildRatlsCertificate,
  collateralToJson,
  ratlsReportData,
  readRatlsCertificate,
  spkiOf,
  type SimPlatform,
} from '../attestation/index.js';
import type { SmsEvidence } from '../sms-client/verifySms.js';

/** Who the SMS is (its SmsEnclaveIdentity, src/sms/enclave/identity.ts: what its quote says). */
export interface SmsIdentityInput {
  /** 64 hex digits, no 0x. */
  mrEnclave: string;
  mrSigner: string;
  isvProdId: number;
  isvSvn: number;
  simulated?: true;
}

export interface AttestedTls {
  /** The TLS private key (receipts are signed with it); held in memory only. */
  key: KeyObject;
  /** PEM of `key`, in memory only, for node:https. */
  keyPem: string;
  cert: string;
  /** SubjectPublicKeyInfo DER of the TLS key (what REPORTDATA binds). */
  spki: Buffer;
  fingerprint256: string;
  evidence: SmsEvidence;
  identity: SmsIdentityInput;
}

/** Generate the TLS key, quote it, and build the RA-TLS certificate. */
export async function createAttestedTls(o: {
  identity: SmsIdentityInput;
  platform: SimPlatform;
  hosts?: string[];
}): Promise<AttestedTls> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = spkiOf(privateKey);
  const { quote, collateral } = await o.platform.quote({
    mrenclave: o.identity.mrEnclave,
    mrsigner: o.identity.mrSigner,
    isvProdId: o.identity.isvProdId,
    isvSvn: o.identity.isvSvn,
    reportData: ratlsReportData(spki),
  });
  const cert = buildRatlsCertificate({
    privateKey,
    quote,
    collateral,
    ...(o.hosts ? { hosts: o.hosts } : {}),
  });
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert,
    spki,
    fingerprint256: readRatlsCertificate(cert).fingerprint256,
    evidence: {
      certificate: cert,
      quote: Buffer.from(quote).toString('hex'),
      collateral: collateralToJson(collateral),
      simulated: true,
    },
    identity: o.identity,
  };
}

/** The hosts a generated certificate names: the listening host and the loopback names. */
export function certificateHosts(host: string): string[] {
  const base = ['127.0.0.1', '::1', 'localhost'];
  return host && !base.includes(host) && host !== '0.0.0.0' && host !== '::' ? [host, ...base] : base;
}

const IPC_REQUEST = 'sealwork-sms-attested-tls?';
const IPC_ANSWER = 'sealwork-sms-attested-tls';

interface Transfer {
  type: typeof IPC_ANSWER;
  keyPem: string;
  cert: string;
  evidence: SmsEvidence;
  identity: SmsIdentityInput;
}

/**
 * Primary of a multi-process SMS: hand the one attested TLS key to each worker that asks, over
 * the cluster's IPC channel (memory to memory, never a file), so every process serves the same
 * attested certificate.
 */
export function serveAttestedTlsToWorkers(t: AttestedTls): () => void {
  const onMessage = (w: Worker, m: unknown) => {
    if ((m as { type?: string } | null)?.type !== IPC_REQUEST) return;
    const answer: Transfer = {
      type: IPC_ANSWER,
      keyPem: t.keyPem,
      cert: t.cert,
      evidence: t.evidence,
      identity: t.identity,
    };
    w.send(answer);
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}

/** Worker of a multi-process SMS: ask the primary for the attested TLS key. */
export function attestedTlsFromPrimary(timeoutMs = 30_000): Promise<AttestedTls> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the SMS primary did not hand over the attested TLS key'));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      const t = m as Transfer | null;
      if (t?.type !== IPC_ANSWER) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      const key = createPrivateKey(t.keyPem);
      resolve({
        key,
        keyPem: t.keyPem,
        cert: t.cert,
        spki: spkiOf(key),
        fingerprint256: readRatlsCertificate(t.cert).fingerprint256,
        evidence: t.evidence,
        identity: t.identity,
      });
    };
    process.on('message', onMessage);
    process.send?.({ type: IPC_REQUEST });
  });
}
