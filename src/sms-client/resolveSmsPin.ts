/**
 * Where a client's SMS pin comes from, first found wins: the options (CLI flags `--sms-mrenclave`,
 * `--sms-mrsigner`, `--sms-allow-simulation`), else the environment (`SEALWORK_SMS_MRENCLAVE`,
 * `SEALWORK_SMS_MRSIGNER`, `SEALWORK_SMS_ALLOW_SIMULATION`), else the record the local SMS wrote
 * under the home (`sms start`, `sealwork dev`) — only trust on first use, since the SMS wrote
 * it itself. No pin: the check refuses every SMS (deny by default).
 *
 * The simulation root (for an SMS on the simulated platform) is `SEALWORK_SMS_SIM_ROOT`, else the
 * one the record names, else `<home>/sim-platform/root.pem`; it is trusted only when the pin
 * allows simulation.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { TrustedRoot } from '../attestation/index.js';
import { fsError } from '../errors.js';
import type { SmsAttestOptions } from './attestedAgent.js';
import { readSmsRecord } from './smsRecord.js';
import { normalizePin, type SmsPinPolicy } from './verifySms.js';

export interface ResolveSmsPinParameters {
  home: string;
  /** The SMS URL the client will use (the record's pin applies only to the record's SMS). */
  url: string;
  smsMrenclave?: string | string[];
  smsMrsigner?: string | string[];
  smsAllowSimulation?: boolean;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface ResolvedSmsPin extends SmsAttestOptions {
  policy: SmsPinPolicy;
  pinSource: 'options' | 'environment' | 'record (trust on first use)' | 'none';
  trustOnFirstUse: boolean;
}

const list = (v: string | string[] | undefined): string[] | undefined => {
  const a = (Array.isArray(v) ? v : v ? [v] : []).flatMap((x) => x.split(',')).map((x) => x.trim());
  const out = a.filter(Boolean);
  return out.length ? out : undefined;
};
const truthy = (v: string | undefined) => /^(1|true|yes)$/i.test(v ?? '');

async function simRoot(path: string, mustExist: boolean): Promise<TrustedRoot | undefined> {
  try {
    return { name: 'sealwork simulation root CA', pem: await fs.readFile(path, 'utf8'), simulated: true };
  } catch (e) {
    if (!mustExist && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, path, 'read the simulation root');
  }
}

export async function resolveSmsPin(p: ResolveSmsPinParameters): Promise<ResolvedSmsPin> {
  const env = p.env ?? process.env;
  const rec = await readSmsRecord(p.home);
  const recAtt = rec && rec.url === p.url ? rec.attestation : undefined;
  const fromOpts = { mrEnclave: list(p.smsMrenclave), mrSigner: list(p.smsMrsigner) };
  const fromEnv = { mrEnclave: list(env.SEALWORK_SMS_MRENCLAVE), mrSigner: list(env.SEALWORK_SMS_MRSIGNER) };
  const allowSim = p.smsAllowSimulation === true || truthy(env.SEALWORK_SMS_ALLOW_SIMULATION);
  let pinSource: ResolvedSmsPin['pinSource'];
  let policy: SmsPinPolicy;
  if (fromOpts.mrEnclave || fromOpts.mrSigner) {
    pinSource = 'options';
    policy = { ...fromOpts, allowSimulation: allowSim };
  } else if (fromEnv.mrEnclave || fromEnv.mrSigner) {
    pinSource = 'environment';
    policy = { ...fromEnv, allowSimulation: allowSim };
  } else if (recAtt) {
    pinSource = 'record (trust on first use)';
    policy = { mrEnclave: [recAtt.mrEnclave], allowSimulation: recAtt.simulated || allowSim };
  } else {
    pinSource = 'none';
    policy = { allowSimulation: allowSim };
  }
  policy = normalizePin(policy);
  const rootPath =
    env.SEALWORK_SMS_SIM_ROOT || recAtt?.simRootPath || join(p.home, 'sim-platform', 'root.pem');
  const root = policy.allowSimulation
    ? await simRoot(rootPath, Boolean(env.SEALWORK_SMS_SIM_ROOT))
    : undefined;
  return {
    policy,
    pinSource,
    trustOnFirstUse: pinSource === 'record (trust on first use)',
    ...(root ? { trustedRoots: [root] } : {}),
  };
}
