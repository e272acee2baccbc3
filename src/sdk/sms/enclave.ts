/**
 * SDK functions of the SMS enclave: measure it (`sealwork sms measure`) the way `sms start` does,
 * from the same options, so an operator can compute and publish the MRENCLAVE clients pin.
 */
import { createChainClients } from '../../chain/index.js';
import {
  enclaveConfig,
  readRecoveryPublicKey,
  resolveSmsPolicy,
  type SmsPolicyInput,
} from '../../sms/enclave/config.js';
import type { SealPolicy, SmsMeasurement } from '../../sms/enclave/identity.js';
import { measureSms } from '../../sms/enclave/measure.js';
import { resolveHome } from '../../util/home.js';
import { join } from 'node:path';

export type {
  SmsEnclaveIdentity,
  SmsMeasurement,
  SmsManifest,
  SealPolicy,
} from '../../sms/enclave/identity.js';

/** What the measurement depends on: the options of `sms start` that are configuration. */
export interface SmsMeasureParameters {
  home?: string;
  db?: string;
  chainUrl?: string;
  /** Measure for this chain id and hub without asking the chain (both or neither). */
  chainId?: number;
  hub?: string;
  policyFile?: string;
  policy?: SmsPolicyInput;
  allowSimulation?: boolean;
  tlsCert?: string;
  insecureHttp?: boolean;
  signingKey?: string;
  isvSvn?: number;
  isvProdId?: number;
  sealPolicy?: SealPolicy;
  recoveryKey?: string;
}

/** MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN and the manifest of the SMS `sms start` would run with these options. */
export async function measureSmsService(p: SmsMeasureParameters = {}): Promise<SmsMeasurement> {
  const home = resolveHome(p.home);
  const policy = await resolveSmsPolicy(p);
  let chainId = p.chainId;
  let hub = p.hub;
  if (chainId === undefined || hub === undefined) {
    const clients = await createChainClients({ home, ...(p.chainUrl ? { chainUrl: p.chainUrl } : {}) });
    chainId = clients.chain.id;
    hub = clients.deployment.hub;
  }
  const recoveryKey = p.recoveryKey ? await readRecoveryPublicKey(p.recoveryKey) : undefined;
  return measureSms({
    home,
    config: enclaveConfig({
      policy,
      chainId,
      hub,
      db: p.db ?? join(home, 'sms', 'sms.db'),
      ...(p.sealPolicy ? { sealPolicy: p.sealPolicy } : {}),
      ...(recoveryKey ? { recoveryKey } : {}),
      tls: p.insecureHttp ? 'none' : p.tlsCert ? 'operator' : 'generated',
    }),
    ...(p.signingKey ? { signingKey: p.signingKey } : {}),
    ...(p.isvSvn !== undefined ? { isvSvn: p.isvSvn } : {}),
    ...(p.isvProdId !== undefined ? { isvProdId: p.isvProdId } : {}),
  });
}
