/**
 * Test helpers for the SMS: an in-process SMS (real HTTPS, real SQLite or PostgreSQL, real chain)
 * on a free port. The throwaway PostgreSQL cluster is in postgres.ts; the store a suite runs on in
 * stores.ts.
 */
import { createServer } from 'node:net';
import {
  createLogger,
  silentLogger,
  startSms,
  type Logger,
  type RunningSms,
  type StartSmsOptions,
} from '../../src/sms/index.js';
import { createSmsClient as smsClient, type SmsClient } from '../../src/sms-client/index.js';
import type { TestChain } from './chain.js';
import { tempDir } from './cli.js';

export interface TestSms extends RunningSms {
  home: string;
  client: SmsClient;
  /** Stop the SMS and remove its home (when the helper created it). */
  stop(): Promise<void>;
}

/**
 * Start an SMS in this process on 127.0.0.1:<free port> with TLS, against `chain` (its deployment
 * recorded in the SMS home). Simulation is allowed by default (the test platform is simulated).
 */
export async function startTestSms(
  opts: { chain: TestChain; home?: string } & Partial<Omit<StartSmsOptions, 'home' | 'chainUrl'>>,
): Promise<TestSms> {
  const t = opts.home ? undefined : tempDir('sealwork-sms-');
  const home = opts.home ?? t!.dir;
  await opts.chain.saveTo(home);
  const { chain: _chain, home: _home, ...rest } = opts;
  const logger: Logger =
    opts.logger ?? (process.env.SEALWORK_TEST_LOGS ? createLogger({ level: 'debug' }) : silentLogger);
  const running = await startSms({
    home,
    chainUrl: opts.chain.url,
    port: 0,
    allowSimulation: true,
    ...rest,
    logger,
  });
  return {
    ...running,
    home,
    client: smsClient(running.url, running.cert ? { ca: running.cert } : {}),
    async stop() {
      await running.close();
      t?.cleanup();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export { postgresAvailable, startTestPostgres, type TestPostgres } from './postgres.js';
