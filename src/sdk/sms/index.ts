/**
 * SDK functions of the SMS domain (what the CLI calls): start the service, push and check secrets
 * with the iExec challenge signatures, and manage the beneficiary's result-encryption key.
 */
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { isAddress, type Address } from 'viem';
import { resolveAccount } from '../../chain/clients.js';
import { SealworkError, fsError } from '../../errors.js';
import {
  startSms,
  startSmsCluster,
  type SmsCluster,
  type RunningSms,
  type StartSmsOptions,
} from '../../sms/index.js';
import {
  createSmsClient,
  resolveSmsEndpoint,
  resolveSmsPin,
  type SmsClient,
  type SmsVerdict,
} from '../../sms-client/index.js';
import { assertWritableTarget, writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';
import type { ChainParameters } from '../chain/common.js';

export type { RunningSms, SmsCluster, StartSmsOptions } from '../../sms/index.js';

/** Start the SMS (see `startSms`); `home` defaults to SEALWORK_HOME / ~/.sealwork. */
export function startSmsService(p: Omit<StartSmsOptions, 'home'> & { home?: string }): Promise<RunningSms> {
  return startSms({ ...p, home: resolveHome(p.home) });
}

/** Start a multi-process SMS (primary side of node:cluster); see `startSmsCluster`. */
export function startSmsClusterService(
  p: Omit<StartSmsOptions, 'home'> & { home?: string; workers: number },
): Promise<SmsCluster> {
  return startSmsCluster({ ...p, home: resolveHome(p.home) });
}

export interface SmsEndpointParameters {
  home?: string;
  /** SMS URL (else SEALWORK_SMS_URL, else the local SMS recorded by `sms start`). */
  smsUrl?: string;
  /** PEM file of the certificate to trust (else SEALWORK_SMS_CA, else the local SMS's certificate). */
  smsCa?: string;
  /** The SMS MrEnclave(s) to trust (else SEALWORK_SMS_MRENCLAVE, else the local SMS's record: trust on first use). */
  smsMrenclave?: string | string[];
  /** The SMS MrSigner(s) to trust (else SEALWORK_SMS_MRSIGNER). */
  smsMrsigner?: string | string[];
  /** Accept an SMS on the simulated platform (else SEALWORK_SMS_ALLOW_SIMULATION; the record's pin allows it). */
  smsAllowSimulation?: boolean;
}

/** What a client checked of the SMS before sending (every verdict says whether it is simulated). */
export interface SmsAttestationSummary {
  mrEnclave: string;
  mrSigner: string;
  tcbStatus: string;
  simulated: boolean;
  pinSource: string;
  trustOnFirstUse: boolean;
}

/**
 * Resolve the SMS URL and build an attested client: before anything is sent on a connection, the
 * SMS's quote, its binding to that connection's TLS key and the pinned SMS policy are checked
 * (src/sms-client/verifySms.ts); an SMS that fails gets nothing.
 */
export async function resolveSms(p: SmsEndpointParameters): Promise<{
  client: SmsClient;
  url: string;
  caPath?: string;
  /** After the first request: what the SMS proved. */
  attestation: () => SmsAttestationSummary | undefined;
}> {
  const home = resolveHome(p.home);
  const { url, ca, caPath } = await resolveSmsEndpoint({
    home,
    ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}),
    ...(p.smsCa ? { smsCa: p.smsCa } : {}),
  });
  const pin = await resolveSmsPin({
    home,
    url,
    ...(p.smsMrenclave ? { smsMrenclave: p.smsMrenclave } : {}),
    ...(p.smsMrsigner ? { smsMrsigner: p.smsMrsigner } : {}),
    ...(p.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
  });
  const client = createSmsClient(url, { ...(ca ? { ca } : {}), attest: pin });
  const summary = (v: SmsVerdict | undefined): SmsAttestationSummary | undefined =>
    v && {
      mrEnclave: v.mrEnclave,
      mrSigner: v.mrSigner,
      tcbStatus: v.tcbStatus,
      simulated: v.simulated,
      pinSource: pin.pinSource,
      trustOnFirstUse: pin.trustOnFirstUse,
    };
  return {
    client,
    url,
    ...(caPath ? { caPath } : {}),
    attestation: () => summary(client.attestation()),
  };
}

export type SmsSignerParameters = SmsEndpointParameters & Omit<ChainParameters, 'chainUrl'>;

async function signer(p: SmsSignerParameters) {
  const account = await resolveAccount({
    home: resolveHome(p.home),
    ...(p.privateKey ? { privateKey: p.privateKey } : {}),
    ...(p.as ? { as: p.as } : {}),
    ...(p.password ? { password: p.password } : {}),
    ...(p.promptPassword ? { promptPassword: p.promptPassword } : {}),
  });
  if (!account)
    throw new SealworkError(
      'WALLET_MISSING',
      'Pushing a secret needs a wallet to sign the SMS challenge, and none is configured.',
      {
        hint: 'Set SEALWORK_PRIVATE_KEY, create one with `sealwork wallet create`, or use --as <dev account> on the embedded chain.',
      },
    );
  return account;
}

function address(a: string, what: string): Address {
  if (!isAddress(a, { strict: false }))
    throw new SealworkError('ADDRESS_INVALID', `${a} is not a valid ${what} address.`, {
      hint: 'Give a 0x-prefixed 20-byte hex address.',
    });
  return a as Address;
}

export interface PushReturnType {
  sms: string;
  signer: Address;
  target: string;
  /** What the SMS proved before the push was sent. */
  smsAttestation?: SmsAttestationSummary;
}

/** Push through an attested client, then close its kept-alive connection. */
async function attestedPush(
  p: SmsSignerParameters,
  target: (account: Awaited<ReturnType<typeof signer>>) => string,
  push: (client: SmsClient, account: Awaited<ReturnType<typeof signer>>) => Promise<void>,
): Promise<PushReturnType> {
  const { client, url, attestation } = await resolveSms(p);
  const account = await signer(p);
  try {
    await push(client, account);
  } finally {
    client.close();
  }
  const a = attestation();
  return { sms: url, signer: account.address, target: target(account), ...(a ? { smsAttestation: a } : {}) };
}

/** Push a dataset key (base64 of 32 bytes) as its owner: `POST /secrets/web3`. */
export async function pushDatasetSecret(
  p: SmsSignerParameters & { dataset: string; key: string },
): Promise<PushReturnType> {
  const dataset = address(p.dataset, 'dataset');
  const key = p.key.trim();
  return attestedPush(
    p,
    () => dataset,
    (client, account) => client.pushDatasetSecret(account, dataset, key),
  );
}

/** Push the app developer secret as the app owner: `POST /apps/{app}/secrets`. */
export async function pushAppSecret(
  p: SmsSignerParameters & { app: string; secret: string },
): Promise<PushReturnType> {
  const app = address(p.app, 'app');
  return attestedPush(
    p,
    () => app,
    (client, account) => client.pushAppSecret(account, app, p.secret),
  );
}

/** Push the app's file-system key (encrypted regions) as the app owner; immutable. */
export async function pushAppFsKey(
  p: SmsSignerParameters & { app: string; fsKeyFile: string },
): Promise<PushReturnType> {
  const app = address(p.app, 'app');
  let value: string;
  try {
    value = (await fs.readFile(resolve(p.fsKeyFile), 'utf8')).trim();
  } catch (e) {
    throw fsError(e, p.fsKeyFile, 'read the file-system key');
  }
  if (!value)
    throw new SealworkError('FS_KEY_EMPTY', `The file-system key file ${p.fsKeyFile} is empty.`, {
      hint: 'Give the key file written by `sealwork app build`.',
    });
  return attestedPush(
    p,
    () => app,
    (client, account) => client.pushAppFsKey(account, app, value),
  );
}

/** Push a requester secret as the signer: `POST /requesters/{signer}/secrets/{name}`. */
export async function pushRequesterSecret(
  p: SmsSignerParameters & { name: string; secret: string },
): Promise<PushReturnType> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(p.name))
    throw new SealworkError(
      'SECRET_NAME_INVALID',
      `Secret name "${p.name}" is not 1 to 64 characters from [A-Za-z0-9_-].`,
      {
        hint: 'Use letters, digits, "-" and "_" only.',
      },
    );
  return attestedPush(
    p,
    (account) => `${account.address}/${p.name}`,
    (client, account) => client.pushRequesterSecret(account, p.name, p.secret),
  );
}

export interface GenerateResultKeyReturnType {
  privateKeyFile: string;
  publicKeyFile: string;
  publicKeyPem: string;
}

export const resultKeyDir = (home?: string) => join(resolveHome(home), 'keys', 'result');

/** Generate the beneficiary's RSA-4096 result key pair: private key PEM (0600) and public key PEM. */
export async function generateResultKey(p: {
  home?: string;
  out?: string;
  force?: boolean;
}): Promise<GenerateResultKeyReturnType> {
  const dir = resolve(p.out ?? resultKeyDir(p.home));
  const privateKeyFile = join(dir, 'result-key.pem');
  const publicKeyFile = join(dir, 'result-key.pub.pem');
  await assertWritableTarget(privateKeyFile, p.force ?? false);
  await assertWritableTarget(publicKeyFile, p.force ?? false);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
    force: p.force,
  });
  await writeFileAtomic(publicKeyFile, publicKeyPem, { mode: 0o644, force: p.force });
  return { privateKeyFile, publicKeyFile, publicKeyPem };
}

/** Push the beneficiary's result-encryption public key (web2 secret `iexec-result-encryption-public-key`). */
export async function pushResultKey(
  p: SmsSignerParameters & { publicKeyFile?: string; update?: boolean },
): Promise<PushReturnType & { publicKeyFile: string }> {
  const file = resolve(p.publicKeyFile ?? join(resultKeyDir(p.home), 'result-key.pub.pem'));
  let pem: string;
  try {
    pem = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, file, 'read the result public key');
  }
  try {
    const k = createPublicKey(pem);
    if (k.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    pem = k.export({ type: 'spki', format: 'pem' }).toString();
  } catch (e) {
    throw new SealworkError('RESULT_KEY_INVALID', `${file} is not an RSA public (or private) key in PEM.`, {
      hint: 'Generate one with `sealwork result generate-key`.',
      cause: e,
    });
  }
  const r = await attestedPush(
    p,
    (account) => account.address,
    (client, account) => client.pushResultKey(account, pem, { update: p.update ?? false }),
  );
  return { ...r, publicKeyFile: file };
}

export type SecretCheckKind = 'dataset' | 'app' | 'fs-key' | 'requester' | 'result-key' | 'web2';

/** Does the SMS hold this secret? (HEAD; no signature needed, no value revealed.) */
export async function checkSecret(
  p: SmsEndpointParameters & { kind: SecretCheckKind; address: string; name?: string },
): Promise<{ exists: boolean; kind: SecretCheckKind; address: Address; name?: string; sms: string }> {
  const a = address(
    p.address,
    p.kind === 'requester' || p.kind === 'result-key' || p.kind === 'web2' ? 'owner' : p.kind,
  );
  const needName = p.kind === 'requester' || p.kind === 'web2';
  if (needName && !p.name)
    throw new SealworkError('SECRET_NAME_MISSING', `Checking a ${p.kind} secret needs its name.`, {
      hint: `sealwork secret check ${p.kind} <address> <name>`,
    });
  const { client, url } = await resolveSms(p);
  const exists = await checkWith(client, p.kind, a, p.name).finally(() => client.close());
  return { exists, kind: p.kind, address: a, ...(p.name ? { name: p.name } : {}), sms: url };
}

function checkWith(client: SmsClient, kind: SecretCheckKind, a: Address, name?: string): Promise<boolean> {
  const p = { kind, name };
  return p.kind === 'dataset'
    ? client.hasDatasetSecret(a)
    : p.kind === 'app'
      ? client.hasAppSecret(a)
      : p.kind === 'fs-key'
        ? client.hasAppFsKey(a)
        : p.kind === 'requester'
          ? client.hasRequesterSecret(a, p.name!)
          : p.kind === 'result-key'
            ? client.hasResultKey(a)
            : client.hasWeb2Secret(a, p.name!);
}
