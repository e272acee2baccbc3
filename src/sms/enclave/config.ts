/**
 * The SMS configuration that is measured with its code (SmsEnclaveConfig): the attestation policy
 * (from `--policy`, `--allow-simulation` and the default), the chain id and hub it trusts, the
 * database kind, the sealing policy, the recovery key and the TLS mode. Resolved once by the
 * launcher (or the in-process SMS) before anything starts; a bad policy fails here.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import type { PolicyInput } from '../../attestation/index.js';
import { SealworkError, fsError } from '../../errors.js';
import { DEFAULT_SMS_POLICY, parseSmsPolicy } from '../attestation-adapter.js';
import type { SealPolicy, SmsEnclaveConfig } from './identity.js';

/** The SMS policy as given (a file, an option): checked by parseSmsPolicy before anything starts. */
export type SmsPolicyInput = Omit<PolicyInput, 'mrenclave'> & { mrenclave?: string | string[] };

async function readPolicyFile(path: string): Promise<SmsPolicyInput> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw fsError(e, path, 'read the policy');
  }
  try {
    return JSON.parse(text) as SmsPolicyInput; // unchecked JSON: parseSmsPolicy checks it
  } catch (e) {
    throw new SealworkError('POLICY_INVALID', `The policy ${path} is not valid JSON.`, {
      hint: 'Fix the JSON syntax.',
      cause: e,
    });
  }
}

/** The default policy, then the policy file, then the policy option, then `allowSimulation`; checked. */
export async function resolveSmsPolicy(o: {
  policyFile?: string;
  policy?: SmsPolicyInput;
  allowSimulation?: boolean;
}): Promise<SmsPolicyInput> {
  const policy: SmsPolicyInput = {
    ...DEFAULT_SMS_POLICY,
    ...(o.policyFile ? await readPolicyFile(resolve(o.policyFile)) : {}),
    ...(o.policy ?? {}),
    ...(o.allowSimulation ? { allowSimulation: true } : {}),
  };
  parseSmsPolicy(policy);
  return policy;
}

export const dbKind = (location: string): 'sqlite' | 'postgres' =>
  /^postgres(ql)?:\/\//i.test(location) ? 'postgres' : 'sqlite';

export interface RecoveryPublicKey {
  pem: string;
  /** sha256 (hex) of its SubjectPublicKeyInfo DER: what the configuration measures. */
  sha256: string;
}

/** The operator's offline recovery public key (RSA ≥ 3072 bits, PEM; a private key gives its public half). */
export async function readRecoveryPublicKey(path: string): Promise<RecoveryPublicKey> {
  const file = resolve(path);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, file, 'read the recovery public key');
  }
  return recoveryPublicKey(text, file);
}

export function recoveryPublicKey(text: string, source = 'the recovery key'): RecoveryPublicKey {
  let pem: string;
  let der: Buffer;
  try {
    const k = createPublicKey(text);
    if (k.asymmetricKeyType !== 'rsa' || (k.asymmetricKeyDetails?.modulusLength ?? 0) < 3072)
      throw new Error('not RSA ≥ 3072');
    pem = k.export({ type: 'spki', format: 'pem' }).toString();
    der = k.export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw new SealworkError(
      'SMS_RECOVERY_KEY_INVALID',
      `${source} is not an RSA (≥ 3072 bits) public key in PEM.`,
      {
        hint: 'Generate one offline (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out recovery.key; openssl pkey -in recovery.key -pubout -out recovery.pub.pem) and give the public half.',
        cause: e,
      },
    );
  }
  return { pem, sha256: createHash('sha256').update(der).digest('hex') };
}

export function enclaveConfig(p: {
  policy: SmsPolicyInput;
  chainId: number;
  hub: string;
  db: string;
  sealPolicy?: SealPolicy;
  recoveryKey?: RecoveryPublicKey;
  tls: SmsEnclaveConfig['tls'];
}): SmsEnclaveConfig {
  return {
    chainId: p.chainId,
    hub: p.hub.toLowerCase(),
    db: dbKind(p.db),
    policy: JSON.parse(JSON.stringify(p.policy)) as Record<string, unknown>,
    sealPolicy: p.sealPolicy ?? 'mrsigner',
    recoveryKey: p.recoveryKey?.sha256 ?? null,
    tls: p.tls,
  };
}
