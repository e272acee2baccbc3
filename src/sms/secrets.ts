/**
 * The iExec secret API (push and check), transport-free: each function returns the HTTP status and
 * body the server sends. Statuses as iexec-sms: 204 stored / present, 404 absent, 401 bad
 * signature, 409 already exists, 413 over 4096 bytes, 400 malformed. Our 401 body names the
 * expected signer.
 */
import { createPublicKey } from 'node:crypto';
import { isAddress, type Address, type Hex } from 'viem';
import type { ChainReader } from './chain-reader.js';
import {
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  MAX_SECRET_BYTES,
  RESULT_ENCRYPTION_KEY_NAME,
  REQUESTER_SECRET_NAME,
  recoverChallengeSigner,
  web2SecretChallenge,
  web3SecretChallenge,
} from './formulas.js';
import type { Logger } from './log.js';
import type { Sealer } from './sealing.js';
import { secretAad, type SecretId, type SmsStore } from './store.js';

export interface ApiResult {
  status: number;
  body?: { error?: { code: string; message: string; [k: string]: unknown }; [k: string]: unknown };
}

export const ok204: ApiResult = { status: 204 };
const err = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): ApiResult => ({
  status,
  body: { error: { code, message, ...extra } },
});

/** Max length of a web2 secret name (iExec has none; we bound it). */
const MAX_WEB2_NAME = 256;

export interface SecretApiDeps {
  store: SmsStore;
  sealer: Sealer;
  chain: ChainReader;
  logger: Logger;
}

export type AppSecretSlot = 'developer' | 'fs-key';
const slotName = (s: AppSecretSlot) => (s === 'developer' ? APP_DEVELOPER_SECRET_KEY : APP_FS_KEY_NAME);

function normAddress(a: string | undefined): Address | undefined {
  return a && isAddress(a, { strict: false }) ? (a.toLowerCase() as Address) : undefined;
}

function sizeOk(value: string): boolean {
  return Buffer.byteLength(value, 'utf8') <= MAX_SECRET_BYTES;
}

const tooLarge = () =>
  err(413, 'SECRET_TOO_LARGE', `Secret size should not exceed ${MAX_SECRET_BYTES} bytes.`);
const badAddress = (what: string, v: string | undefined) =>
  err(400, 'ADDRESS_INVALID', `${what} is not a 20-byte hex address.`, { value: v ?? null });

const isWeb2Name = (n: string | undefined): n is string => !!n && n.length <= MAX_WEB2_NAME;
const badWeb2Name = () =>
  err(400, 'SECRET_NAME_INVALID', `secretName must be 1 to ${MAX_WEB2_NAME} characters.`);
const isRequesterName = (n: string | undefined): n is string => !!n && REQUESTER_SECRET_NAME.test(n);
const badRequesterName = () =>
  err(400, 'SECRET_NAME_INVALID', 'Secret key should contain at most 64 characters from [0-9A-Za-z-_].');

/** A dataset key must be standard base64 of exactly 32 bytes (what `dataset encrypt` and the iExec SDK produce). */
export function isDatasetKey(v: string): boolean {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(v)) return false;
  return Buffer.from(v, 'base64').length === 32;
}

/** The result-encryption key: base64 of a PEM public key (RSA), as the iExec SDK sends it. */
export function isResultEncryptionKey(v: string): boolean {
  try {
    const pem = Buffer.from(v, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN')) return false;
    const k = createPublicKey(pem);
    return k.asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

export function createSecretApi(d: SecretApiDeps) {
  const { store, sealer, chain, logger } = d;

  async function checkSigner(
    challenge: Hex,
    authorization: string | undefined,
    expected: Address | undefined,
    ctx: Record<string, unknown>,
  ): Promise<ApiResult | undefined> {
    if (!expected)
      return err(
        401,
        'SIGNER_UNKNOWN',
        'No owner found on chain for this asset, so no signature can be accepted.',
        {
          ...ctx,
          expectedSigner: null,
        },
      );
    const signer = authorization ? await recoverChallengeSigner(challenge, authorization) : undefined;
    if (!signer || signer.toLowerCase() !== expected.toLowerCase()) {
      logger.warn('secret push refused: bad signature', {
        ...ctx,
        expectedSigner: expected,
        signer: signer ?? null,
      });
      return err(
        401,
        authorization ? 'SIGNATURE_INVALID' : 'AUTHORIZATION_MISSING',
        authorization
          ? `The Authorization header is not the EIP-191 signature of the challenge by ${expected}.`
          : 'The Authorization header (EIP-191 signature of the challenge) is missing.',
        { ...ctx, expectedSigner: expected, expectedChallenge: challenge, recoveredSigner: signer ?? null },
      );
    }
    return undefined;
  }

  async function insert(id: SecretId, value: string, ctx: Record<string, unknown>): Promise<ApiResult> {
    const done = await store.insertSecret(id, sealer.seal(value, secretAad(id)));
    if (!done) return err(409, 'SECRET_EXISTS', 'The secret already exists and cannot be replaced.', ctx);
    logger.info('secret stored', { ...ctx, kind: id.kind, bytes: Buffer.byteLength(value) });
    return ok204;
  }

  const exists = async (id: SecretId): Promise<ApiResult> =>
    (await store.hasSecret(id)) ? ok204 : err(404, 'SECRET_NOT_FOUND', 'No such secret.');

  return {
    async hasWeb3(secretAddress: string | undefined): Promise<ApiResult> {
      const a = normAddress(secretAddress);
      if (!a) return badAddress('secretAddress', secretAddress);
      return exists({ kind: 'web3', owner: a, name: '' });
    },

    async pushWeb3(
      secretAddress: string | undefined,
      value: string,
      authorization: string | undefined,
    ): Promise<ApiResult> {
      const a = normAddress(secretAddress);
      if (!a) return badAddress('secretAddress', secretAddress);
      if (!sizeOk(value)) return tooLarge();
      if (!isDatasetKey(value))
        return err(
          400,
          'DATASET_KEY_INVALID',
          'A dataset secret must be the base64 encoding of 32 bytes (44 characters).',
        );
      const ctx = { secretAddress: a };
      const bad = await checkSigner(web3SecretChallenge(a, value), authorization, await chain.owner(a), ctx);
      if (bad) return bad;
      return insert({ kind: 'web3', owner: a, name: '' }, value, ctx);
    },

    async hasWeb2(ownerAddress: string | undefined, secretName: string | undefined): Promise<ApiResult> {
      const o = normAddress(ownerAddress);
      if (!o) return badAddress('ownerAddress', ownerAddress);
      if (!isWeb2Name(secretName)) return badWeb2Name();
      return exists({ kind: 'web2', owner: o, name: secretName });
    },

    async pushWeb2(
      ownerAddress: string | undefined,
      secretName: string | undefined,
      value: string,
      authorization: string | undefined,
      update: boolean,
    ): Promise<ApiResult> {
      const o = normAddress(ownerAddress);
      if (!o) return badAddress('ownerAddress', ownerAddress);
      if (!isWeb2Name(secretName)) return badWeb2Name();
      if (!sizeOk(value)) return tooLarge();
      if (secretName === RESULT_ENCRYPTION_KEY_NAME && !isResultEncryptionKey(value))
        return err(
          400,
          'RESULT_KEY_INVALID',
          `${RESULT_ENCRYPTION_KEY_NAME} must be the base64 of an RSA public key PEM.`,
        );
      const ctx = { ownerAddress: o, secretName };
      const bad = await checkSigner(web2SecretChallenge(o, secretName, value), authorization, o, ctx);
      if (bad) return bad;
      const id: SecretId = { kind: 'web2', owner: o, name: secretName };
      if (!update) return insert(id, value, ctx);
      const done = await store.updateSecret(id, sealer.seal(value, secretAad(id)));
      if (!done)
        return err(404, 'SECRET_NOT_FOUND', 'No such secret to update; create it with POST first.', ctx);
      logger.info('secret updated', { ...ctx, kind: 'web2', bytes: Buffer.byteLength(value) });
      return ok204;
    },

    async hasApp(app: string | undefined, slot: AppSecretSlot): Promise<ApiResult> {
      const a = normAddress(app);
      if (!a) return badAddress('app', app);
      return exists({ kind: 'app', owner: a, name: slotName(slot) });
    },

    async pushApp(
      app: string | undefined,
      value: string,
      authorization: string | undefined,
      slot: AppSecretSlot,
    ): Promise<ApiResult> {
      const a = normAddress(app);
      if (!a) return badAddress('app', app);
      if (!sizeOk(value)) return tooLarge();
      const name = slotName(slot);
      const ctx = { app: a, slot };
      const bad = await checkSigner(
        web2SecretChallenge(a, name, value),
        authorization,
        await chain.owner(a),
        ctx,
      );
      if (bad) return bad;
      return insert({ kind: 'app', owner: a, name }, value, ctx);
    },

    async hasRequester(requester: string | undefined, name: string | undefined): Promise<ApiResult> {
      const r = normAddress(requester);
      if (!r) return badAddress('requester', requester);
      if (!isRequesterName(name)) return badRequesterName();
      return exists({ kind: 'requester', owner: r, name });
    },

    async pushRequester(
      requester: string | undefined,
      name: string | undefined,
      value: string,
      authorization: string | undefined,
    ): Promise<ApiResult> {
      const r = normAddress(requester);
      if (!r) return badAddress('requester', requester);
      if (!isRequesterName(name)) return badRequesterName();
      if (!sizeOk(value)) return tooLarge();
      const ctx = { requester: r, secretName: name };
      const bad = await checkSigner(web2SecretChallenge(r, name, value), authorization, r, ctx);
      if (bad) return bad;
      return insert({ kind: 'requester', owner: r, name }, value, ctx);
    },
  };
}

export type SecretApi = ReturnType<typeof createSecretApi>;
