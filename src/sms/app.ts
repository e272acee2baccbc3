/**
 * The SMS HTTP API (hono): iExec's secret endpoints, exactly (secrets.ts), plus the attested
 * release endpoints. Routes validate with zod middleware and call domain code that throws; the
 * one `onError` answers every refusal with its HTTP status (http-errors.ts). Testable in-process
 * with `app.request(...)`.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { SealworkError } from '../errors.js';
import type { ChainReader } from '../chain/index.js';
import { CHALLENGE_HTTP_STATUS, errorBody, renderError, type ErrorRenderingEnv } from './http-errors.js';
import type { Logger } from './log.js';
import { receiptRoutes } from './receipts.js';
import { malformedSession, SessionRequestSchema, type ReleaseService } from './release.js';
import type { SmsStore } from './store.js';
import { secretRoutes, type SecretApi } from './secrets.js';
import { body, validate } from './validate.js';

export interface SmsAppDeps {
  secrets: SecretApi;
  release: ReleaseService;
  /** Where the release receipts are read from (`GET /receipts/{taskId}`). */
  store: SmsStore;
  /** For the secret pushes: the owner of a dataset or an app. */
  chain: ChainReader;
  logger: Logger;
  /** Extra fields for /health (store kind, chain id, …). */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

const TaskParam = z.object({
  taskId: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/)
    .transform((t) => t.toLowerCase() as `0x${string}`),
});

/** The SMS app (its routes may set how their errors render). */
export type SmsApp = Hono<ErrorRenderingEnv>;

export function createSmsApp(d: SmsAppDeps): SmsApp {
  const { release, logger } = d;
  const app = new Hono<ErrorRenderingEnv>();

  app.use(async (c, next) => {
    const t = performance.now();
    await next();
    logger.debug('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: +(performance.now() - t).toFixed(2),
    });
  });
  app.onError(renderError(logger));
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`), 404));

  app.get('/health', async (c) => c.json({ status: 'ok', ...(d.health ? await d.health() : {}) }));

  app.route('/', secretRoutes(d));
  app.route('/', receiptRoutes(d));

  // Attested release
  app.post(
    '/tee/challenges/:taskId',
    async (c, next) => {
      c.set('httpStatus', CHALLENGE_HTTP_STATUS);
      await next();
    },
    validate(
      'param',
      TaskParam,
      () => new SealworkError('TASK_ID_INVALID', 'The task id must be 0x + 64 hex characters.'),
    ),
    async (c) =>
      c.text(await release.createChallenge(c.req.valid('param').taskId, c.req.header('Authorization')), 200),
  );
  app.get('/tee/nonce', (c) => c.json(release.newNonce(), 200, { 'Cache-Control': 'no-store' }));
  app.post(
    '/tee/sessions',
    bodyLimit({
      maxSize: 2 * 1024 * 1024,
      onError: () =>
        release.refuse(
          new SealworkError('SESSION_REQUEST_TOO_LARGE', 'Session requests are limited to 2 MiB.'),
        ),
    }),
    body('json', SessionRequestSchema, (issue) => release.refuse(malformedSession(issue))),
    async (c) =>
      c.json(await release.openSession(c.var.body, c.req.header('Authorization')), 200, {
        'Cache-Control': 'no-store',
      }),
  );
  return app;
}
