/** The SMS wired in-process for the local stack (same parts as `sealwork sms start`). */
import { join } from 'node:path';
import type { Address, PublicClient } from 'viem';
import type { SimPlatform } from '../../attestation/index.js';
import { createAttestationVerifier } from '../../sms/attestation-adapter.js';
import { chainReaderFromClient } from '../../sms/chain-adapter.js';
import { createLogger, silentLogger, type Logger } from '../../sms/log.js';
import { createSealer, loadMasterKey } from '../../sms/sealing.js';
import { checkMasterKey, createSms, listen } from '../../sms/server.js';
import { openStore } from '../../sms/store.js';
import { loadOrCreateTls } from '../../sms/tls.js';

export interface LocalSms {
  url: string;
  /** The SMS certificate (PEM) clients pin. */
  cert: string;
  certPath: string;
  close(): Promise<void>;
}

/** Start the SMS on 127.0.0.1 with TLS, SQLite under `<home>/sms`, accepting simulated enclaves of `platform`. */
export async function startLocalSms(p: {
  home: string;
  publicClient: PublicClient;
  hub: Address;
  platform: SimPlatform;
  port?: number;
  logger?: Logger | 'stderr';
}): Promise<LocalSms> {
  const dir = join(p.home, 'sms');
  const store = await openStore(join(dir, 'sms.db'));
  try {
    const { key } = await loadMasterKey(dir);
    const sealer = createSealer(key);
    key.fill(0);
    await checkMasterKey(store, sealer);
    const logger = p.logger === 'stderr' ? createLogger() : (p.logger ?? silentLogger);
    const sms = createSms({
      store,
      sealer,
      chain: chainReaderFromClient(p.publicClient, p.hub),
      verifier: createAttestationVerifier({
        policy: { allowSimulation: true },
        simulationRoot: p.platform.trustedRoot,
      }),
      logger,
      cacheChain: true,
    });
    const tls = await loadOrCreateTls({ dir: join(dir, 'tls') });
    const l = await listen(sms.app, { port: p.port ?? 0, tls: { cert: tls.cert, key: tls.key } });
    return {
      url: l.url,
      cert: tls.cert,
      certPath: tls.certPath ?? join(dir, 'tls', 'cert.pem'),
      async close() {
        await l.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
