/**
 * The SMS as a running service: start it the way `sealwork sms start` does (one process, or a
 * node:cluster of processes sharing the port), and report the configured SMS's status.
 */
import cluster from 'node:cluster';
import { readSmsRecord, type RunningSms, type SmsCluster, type StartSmsOptions } from '../../sms/index.js';
import { resolveHome } from '../../util/home.js';
import { SealworkError } from '../../errors.js';
import {
  createSmsClient,
  getAttestation,
  resolveSmsEndpoint,
  resolveSmsPin,
  smsVerdictError,
  verifySmsEvidence,
  type SmsVerdict,
} from '../../sms-client/index.js';
import { startSmsClusterService, startSmsService, type SmsEndpointParameters } from './index.js';

export interface ServeSmsParameters extends Omit<StartSmsOptions, 'home' | 'clusterWorker'> {
  home?: string;
  /** SMS processes sharing the port (default 1). */
  workers?: number;
}

export interface ServeSmsReturnType {
  /** The started SMS: one process, or the primary of a cluster. */
  running: RunningSms | SmsCluster;
  /** This process is one of the forked workers of a cluster (it prints nothing, the primary does). */
  clusterWorker: boolean;
  workers: number;
  /** Stop serving; a cluster worker also closes its IPC channel to the primary so it can exit. */
  stop(): Promise<void>;
}

/**
 * Start the SMS. With `workers` > 1 the calling process becomes the primary of a node:cluster: it
 * forks `workers` processes that re-run the same command line, and reach this function again as
 * cluster workers serving the port.
 */
export async function serveSms(p: ServeSmsParameters): Promise<ServeSmsReturnType> {
  const { workers = 1, ...options } = p;
  const clusterWorker = workers > 1 && cluster.isWorker;
  const running =
    workers > 1 && cluster.isPrimary
      ? await startSmsClusterService({ ...options, workers })
      : await startSmsService({ ...options, ...(clusterWorker ? { clusterWorker: true } : {}) });
  return {
    running,
    clusterWorker,
    workers,
    stop: () =>
      running.close().finally(() => (clusterWorker && process.connected ? process.disconnect() : undefined)),
  };
}

export interface SmsStatusReturnType {
  url: string;
  /** The certificate trusted to reach it, when one is configured. */
  caPath: string | null;
  /** The pid of the local SMS when the configured URL is the one `sms start` recorded. */
  pid: number | null;
  /** What the SMS reports on `GET /health`. */
  health: Record<string, unknown>;
  /** Does the SMS serve attested TLS (RA-TLS)? Sealwork clients send only to one that does. */
  attestedTls: boolean;
  /** What plain-TLS clients (the iExec SDK) get: they connect without verifying the SMS. */
  plainTlsClients: string;
}

/**
 * The configured SMS (option, SEALWORK_SMS_URL, or the local one) and what it reports on /health.
 * Reads over plain TLS (no secret is sent): it reports an SMS whatever its attestation.
 */
export async function smsStatus(p: SmsEndpointParameters = {}): Promise<SmsStatusReturnType> {
  const home = resolveHome(p.home);
  const { url, ca, caPath } = await resolveSmsEndpoint({
    home,
    ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}),
    ...(p.smsCa ? { smsCa: p.smsCa } : {}),
  });
  const rec = await readSmsRecord(home);
  const health = await createSmsClient(url, ca ? { ca } : {}).health();
  const attestedTls = health.attestedTls === true;
  return {
    url,
    caPath: caPath ?? null,
    pid: rec?.url === url ? rec.pid : null,
    health,
    attestedTls,
    plainTlsClients: attestedTls
      ? 'iExec-SDK clients (plain TLS, trusting the certificate file) connect without verifying the attestation; sealwork clients verify it before sending'
      : 'this SMS is NOT attested (operator certificate or HTTP): sealwork clients refuse to send to it; plain-TLS clients trust its certificate only',
  };
}

export interface VerifySmsReturnType {
  url: string;
  verdict: SmsVerdict;
  pin: {
    mrEnclave: string[];
    mrSigner: string[];
    allowSimulation: boolean;
    source: string;
    trustOnFirstUse: boolean;
  };
}

/**
 * `sealwork sms verify [url]`: fetch the SMS's evidence over TLS and check it, its binding to the
 * connection's key and the pinned policy. Throws the verdict's error (with every check in its
 * details) when the SMS fails: call with `{ refuse: false }` to get the failed verdict instead.
 */
export async function verifySms(
  p: SmsEndpointParameters & { refuse?: boolean } = {},
): Promise<VerifySmsReturnType> {
  const home = resolveHome(p.home);
  const { url } = await resolveSmsEndpoint({ home, ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}) });
  const pin = await resolveSmsPin({
    home,
    url,
    ...(p.smsMrenclave ? { smsMrenclave: p.smsMrenclave } : {}),
    ...(p.smsMrsigner ? { smsMrsigner: p.smsMrsigner } : {}),
    ...(p.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
  });
  let verdict: SmsVerdict;
  try {
    const { evidence, tlsPublicKeySpki } = await getAttestation(url);
    verdict = await verifySmsEvidence(evidence, pin.policy, {
      ...(pin.trustedRoots ? { trustedRoots: pin.trustedRoots } : {}),
      tlsPublicKeySpki,
    });
  } catch (e) {
    if (!(e instanceof SealworkError) || e.code !== 'SMS_NOT_ATTESTED') throw e;
    verdict = {
      ok: false,
      simulated: false,
      mrEnclave: '',
      mrSigner: '',
      tcbStatus: 'unknown',
      checks: [
        {
          name: 'the SMS serves attestation evidence',
          ok: false,
          actual: e.message,
          code: 'SMS_NOT_ATTESTED',
        },
      ],
    };
  }
  if (!verdict.ok && p.refuse !== false) throw smsVerdictError(verdict, url);
  return {
    url,
    verdict,
    pin: {
      mrEnclave: pin.policy.mrEnclave ?? [],
      mrSigner: pin.policy.mrSigner ?? [],
      allowSimulation: pin.policy.allowSimulation === true,
      source: pin.pinSource,
      trustOnFirstUse: pin.trustOnFirstUse,
    },
  };
}

/** The error `sms verify` exits with when the SMS fails: the first failed check's code, the report in details. */
export function smsRefusal(r: VerifySmsReturnType): SealworkError {
  const e = smsVerdictError(r.verdict, r.url);
  return new SealworkError(e.code, e.message, {
    ...(e.hint ? { hint: e.hint } : {}),
    details: { url: r.url, verdict: r.verdict, pin: r.pin },
  });
}
