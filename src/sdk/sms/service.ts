/**
 * The SMS as a running service: start it the way `sealwork sms start` does (one process, or a
 * node:cluster of processes sharing the port), and report the configured SMS's status.
 */
import cluster from 'node:cluster';
import { readSmsRecord, type RunningSms, type SmsCluster, type StartSmsOptions } from '../../sms/index.js';
import { resolveHome } from '../../util/home.js';
import { resolveSms, startSmsClusterService, startSmsService, type SmsEndpointParameters } from './index.js';

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
}

/** The configured SMS (option, SEALWORK_SMS_URL, or the local one) and what it reports on /health. */
export async function smsStatus(p: SmsEndpointParameters = {}): Promise<SmsStatusReturnType> {
  const { client, url, caPath } = await resolveSms(p);
  const rec = await readSmsRecord(resolveHome(p.home));
  const health = await client.health();
  return { url, caPath: caPath ?? null, pid: rec?.url === url ? rec.pid : null, health };
}
