/**
 * The iExec secret API (push and check), as iexec-sms answers it: 204 stored / present, 404
 * absent, 401 bad signature (our body names the expected signer), 403 a push signature already
 * used (SIGNATURE_REUSED: a replay; iexec-sms has no such check), 409 already exists, 413 over
 * MAX_SECRET_BYTES, 400 malformed, 405 for reading a secret back. Each route is a chain of checks:
 * query or path → value → signature (`signedPush`) → store; a check that fails throws, and
 * `app.onError` answers.
 */
import { createPublicKey } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isAddress, type Address } from 'viem';
import { z } from 'zod';
import { SealworkError } from '../errors.js';
import type { ChainReader } from '../chain/index.js';
import {
  APP_DEVELOPER_SECRET_KEY,
  APP_FS_KEY_NAME,
  MAX_SECRET_BYTES,
  RESULT_ENCRYPTION_KEY_NAME,
  REQUESTER_SECRET_NAME,
  web2SecretChallenge,
  web3SecretChallenge,
} from '../protocol/index.js';
import type { Logger } from './log.js';
import type { Sealer } from './sealing.js';
import { signedPush, type PushEnv } from './signed.js';
import { secretAad, type SecretId, type SmsStore } from './store.js';
import { body, declaredOr, refusal, validate, type Validated } from './validate.js';

/** Max length of a web2 secret name (iExec has none; we bound it). */
const MAX_WEB2_NAME = 256;

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

// ------------------------------------------------------------------ the storage side

export interface SecretApiDeps {
  store: SmsStore;
  sealer: Sealer;
  logger: Logger;
}

/**
 * Check, insert and replace sealed secrets; each refusal throws. iExec's push challenges have no
 * nonce, so a captured push could be replayed (an old web2 value restored after a rotation, or a
 * requester-secret push replayed as the web2 secret of the same name: same challenge). Every
 * accepted push signature is recorded (its fingerprint, never the value) and never accepted again,
 * on any endpoint: `SIGNATURE_REUSED`. The value and its signature are written in one transaction:
 * a push cut short (a crash, a database restart) leaves neither, so it can be sent again as it
 * was. The existence checks come first, so re-sending a first push still answers 409 as iexec-sms
 * does.
 */
export function createSecretApi({ store, sealer, logger }: SecretApiDeps) {
  const seal = (id: SecretId, value: string) => sealer.seal(value, secretAad(id));
  const reused = (id: SecretId, context: Record<string, unknown>) => {
    logger.warn('secret push refused: signature already used', { ...context, kind: id.kind });
    return new SealworkError(
      'SIGNATURE_REUSED',
      'This signature was already used for a push (a replay); sign a value never pushed with it before.',
      { details: context },
    );
  };
  /** Store the sealed value and use up the push's signature, in one transaction; refuse otherwise. */
  async function push(
    id: SecretId,
    value: string,
    fingerprint: string,
    mode: 'insert' | 'update',
    context: Record<string, unknown>,
  ) {
    const outcome = await store.pushSecret(id, seal(id, value), fingerprint, mode);
    if (outcome === 'replayed') throw reused(id, context);
    if (outcome === 'exists') throw exists(context);
    if (outcome === 'missing') throw missing(context);
  }
  const exists = (context: Record<string, unknown>) =>
    new SealworkError('SECRET_EXISTS', 'The secret already exists and cannot be replaced.', {
      details: context,
    });
  const missing = (context: Record<string, unknown>) =>
    new SealworkError('SECRET_NOT_FOUND', 'No such secret to update; create it with POST first.', {
      details: context,
    });
  return {
    /** 404 SECRET_NOT_FOUND unless the secret exists. */
    async exists(id: SecretId): Promise<void> {
      if (!(await store.hasSecret(id))) throw new SealworkError('SECRET_NOT_FOUND', 'No such secret.');
    },
    /** Store a new secret; 409 SECRET_EXISTS when there is one already (secrets are immutable). */
    async insert(
      id: SecretId,
      value: string,
      context: Record<string, unknown>,
      fingerprint: string,
    ): Promise<void> {
      if (await store.hasSecret(id)) throw exists(context);
      await push(id, value, fingerprint, 'insert', context);
      logger.info('secret stored', { ...context, kind: id.kind, bytes: Buffer.byteLength(value) });
    },
    /** Replace a web2 secret; 404 SECRET_NOT_FOUND when there is none. */
    async update(
      id: SecretId,
      value: string,
      context: Record<string, unknown>,
      fingerprint: string,
    ): Promise<void> {
      if (!(await store.hasSecret(id))) throw missing(context);
      await push(id, value, fingerprint, 'update', context);
      logger.info('secret updated', { ...context, kind: id.kind, bytes: Buffer.byteLength(value) });
    },
  };
}

export type SecretApi = ReturnType<typeof createSecretApi>;

// ------------------------------------------------------------------ what a request must hold

const field = (input: unknown, name: string): unknown =>
  (input as Record<string, unknown> | undefined)?.[name];

/** A 20-byte hex address in the query or path (any case), lower-cased. */
const address = (name: string) =>
  z
    .custom<string>(
      (v) => typeof v === 'string' && isAddress(v, { strict: false }),
      refusal(
        (input) =>
          new SealworkError('ADDRESS_INVALID', `${name} is not a 20-byte hex address.`, {
            details: { value: field(input, name) ?? null },
          }),
      ),
    )
    .transform((a) => a.toLowerCase() as Address);

const web2Name = z.custom<string>(
  (n) => typeof n === 'string' && n.length >= 1 && n.length <= MAX_WEB2_NAME,
  refusal(
    () => new SealworkError('SECRET_NAME_INVALID', `secretName must be 1 to ${MAX_WEB2_NAME} characters.`),
  ),
);
const requesterName = z.custom<string>(
  (n) => typeof n === 'string' && REQUESTER_SECRET_NAME.test(n),
  refusal(
    () =>
      new SealworkError(
        'SECRET_NAME_INVALID',
        'Secret key should contain at most 64 characters from [0-9A-Za-z-_].',
      ),
  ),
);

/** A secret value: at most MAX_SECRET_BYTES of UTF-8. */
const secretValue = z.string().refine(
  (v) => Buffer.byteLength(v, 'utf8') <= MAX_SECRET_BYTES,
  refusal(
    () => new SealworkError('SECRET_TOO_LARGE', `Secret size should not exceed ${MAX_SECRET_BYTES} bytes.`),
  ),
);
const datasetKey = secretValue.refine(
  isDatasetKey,
  refusal(
    () =>
      new SealworkError(
        'DATASET_KEY_INVALID',
        'A dataset secret must be the base64 encoding of 32 bytes (44 characters).',
      ),
  ),
);

const Web3Query = z.object({ secretAddress: address('secretAddress') });
const Web2Query = z.object({ ownerAddress: address('ownerAddress'), secretName: web2Name });
const AppParam = z.object({ app: address('app') });
const RequesterParam = z.object({ requester: address('requester'), name: requesterName });

// Every schema above declares its refusals: any other failure is a bug (500).
const refuse = declaredOr((issue) => new Error(`no refusal declared for ${issue.path.join('.') || 'value'}`));

/** A pushed value whose name asks for more: the result-encryption key must be an RSA public key. */
function checkResultKey(name: string, value: string): void {
  if (name === RESULT_ENCRYPTION_KEY_NAME && !isResultEncryptionKey(value))
    throw new SealworkError(
      'RESULT_KEY_INVALID',
      `${RESULT_ENCRYPTION_KEY_NAME} must be the base64 of an RSA public key PEM.`,
    );
}

// ------------------------------------------------------------------ routes

export interface SecretRoutesDeps {
  secrets: SecretApi;
  chain: ChainReader;
  logger: Logger;
}

/** hono routes HEAD through GET handlers: HEAD answers existence, and a secret is never read back. */
const headOnly: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== 'HEAD')
    throw new SealworkError(
      'METHOD_NOT_ALLOWED',
      'Secrets are never read back; use HEAD to check one exists.',
    );
  await next();
};

/** The transport bound of a push; the value's own bound (MAX_SECRET_BYTES) is checked after. */
const pushBodyLimit = bodyLimit({
  maxSize: 64 * 1024,
  onError: () => {
    throw new SealworkError('SECRET_TOO_LARGE', `Secret size should not exceed ${MAX_SECRET_BYTES} bytes.`);
  },
});

type AppSlot = 'developer' | 'fs-key';
const slotName = (s: AppSlot) => (s === 'developer' ? APP_DEVELOPER_SECRET_KEY : APP_FS_KEY_NAME);

/** Answers of the routes: stored (204) and present (204); the refusals are thrown. */
function answers(secrets: SecretApi) {
  return {
    stored:
      (update = false) =>
      async (c: Context<PushEnv>) => {
        const { id, value, context, fingerprint } = c.var.push;
        await (update
          ? secrets.update(id, value, context, fingerprint)
          : secrets.insert(id, value, context, fingerprint));
        return c.body(null, 204);
      },
    present: async (c: Context, id: SecretId) => {
      await secrets.exists(id);
      return c.body(null, 204);
    },
  };
}

/** `/secrets/web3`, `/secrets/web2`, `/apps/{app}/secrets…`, `/requesters/{requester}/secrets/{name}`. */
export function secretRoutes(d: SecretRoutesDeps): Hono {
  return new Hono()
    .route('/', web3Routes(d))
    .route('/', web2Routes(d))
    .route('/', appRoutes(d))
    .route('/', requesterRoutes(d));
}

function web3Routes({ secrets, chain, logger }: SecretRoutesDeps): Hono {
  const app = new Hono();
  const { stored, present } = answers(secrets);
  // Dataset keys, pushed by the dataset's owner on chain.
  app.get('/secrets/web3', headOnly, validate('query', Web3Query, refuse), (c) =>
    present(c, { kind: 'web3', owner: c.req.valid('query').secretAddress, name: '' }),
  );
  app.post(
    '/secrets/web3',
    pushBodyLimit,
    validate('query', Web3Query, refuse),
    body('text', datasetKey, refuse),
    signedPush(logger, async (c: Validated<{ query: z.output<typeof Web3Query> }>) => {
      const a = c.req.valid('query').secretAddress;
      const value = c.var.body;
      return {
        id: { kind: 'web3', owner: a, name: '' },
        value,
        challenge: web3SecretChallenge(a, value),
        signer: await chain.owner(a),
        context: { secretAddress: a },
      };
    }),
    stored(),
  );

  return app;
}

function web2Routes({ secrets, logger }: SecretRoutesDeps): Hono {
  const app = new Hono();
  const { stored, present } = answers(secrets);
  // Web2 (incl. the beneficiary's result-encryption key), pushed by the owner named: POST creates, PUT replaces.
  app.get('/secrets/web2', headOnly, validate('query', Web2Query, refuse), (c) => {
    const q = c.req.valid('query');
    return present(c, { kind: 'web2', owner: q.ownerAddress, name: q.secretName });
  });
  for (const [method, update] of [
    ['post', false],
    ['put', true],
  ] as const)
    app[method](
      '/secrets/web2',
      pushBodyLimit,
      validate('query', Web2Query, refuse),
      body('text', secretValue, refuse),
      signedPush(logger, (c: Validated<{ query: z.output<typeof Web2Query> }>) => {
        const { ownerAddress: o, secretName } = c.req.valid('query');
        const value = c.var.body;
        checkResultKey(secretName, value);
        return {
          id: { kind: 'web2', owner: o, name: secretName },
          value,
          challenge: web2SecretChallenge(o, secretName, value),
          signer: o,
          context: { ownerAddress: o, secretName },
        };
      }),
      stored(update),
    );

  return app;
}

function appRoutes({ secrets, chain, logger }: SecretRoutesDeps): Hono {
  const app = new Hono();
  const { stored, present } = answers(secrets);
  // The app developer secret (iExec SDK v9 path and the older `/1`) and the app's file-system key,
  // pushed by the app's owner on chain.
  const appSlots: [string, AppSlot][] = [
    ['/apps/:app/secrets', 'developer'],
    ['/apps/:app/secrets/1', 'developer'],
    [`/apps/:app/secrets/${APP_FS_KEY_NAME}`, 'fs-key'],
  ];
  for (const [path, slot] of appSlots) {
    const name = slotName(slot);
    app.get(path, headOnly, validate('param', AppParam, refuse), (c) =>
      present(c, { kind: 'app', owner: c.req.valid('param').app, name }),
    );
    app.post(
      path,
      pushBodyLimit,
      validate('param', AppParam, refuse),
      body('text', secretValue, refuse),
      signedPush(logger, async (c: Validated<{ param: z.output<typeof AppParam> }>) => {
        const a = c.req.valid('param').app;
        const value = c.var.body;
        return {
          id: { kind: 'app', owner: a, name },
          value,
          challenge: web2SecretChallenge(a, name, value),
          signer: await chain.owner(a),
          context: { app: a, slot },
        };
      }),
      stored(),
    );
  }

  return app;
}

function requesterRoutes({ secrets, logger }: SecretRoutesDeps): Hono {
  const app = new Hono();
  const { stored, present } = answers(secrets);
  // Requester secrets, pushed by the requester.
  const requesterPath = '/requesters/:requester/secrets/:name';
  app.get(requesterPath, headOnly, validate('param', RequesterParam, refuse), (c) => {
    const p = c.req.valid('param');
    return present(c, { kind: 'requester', owner: p.requester, name: p.name });
  });
  app.post(
    requesterPath,
    pushBodyLimit,
    validate('param', RequesterParam, refuse),
    body('text', secretValue, refuse),
    signedPush(logger, (c: Validated<{ param: z.output<typeof RequesterParam> }>) => {
      const { requester: r, name } = c.req.valid('param');
      const value = c.var.body;
      return {
        id: { kind: 'requester', owner: r, name },
        value,
        challenge: web2SecretChallenge(r, name, value),
        signer: r,
        context: { requester: r, secretName: name },
      };
    }),
    stored(),
  );
  return app;
}
