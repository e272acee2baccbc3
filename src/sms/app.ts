/**
 * The SMS HTTP API (hono): iExec's secret endpoints, exactly, plus the attested release endpoints.
 * Pure request → response; testable in-process with `app.request(...)`.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isChainUnavailable } from './chain-reader.js';
import type { Logger } from './log.js';
import type { ReleaseService } from './release.js';
import type { ApiResult, SecretApi } from './secrets.js';

export { isChainUnavailable };

export interface SmsAppDeps {
  secrets: SecretApi;
  release: ReleaseService;
  logger: Logger;
  /** Extra fields for /health (store kind, chain id, …). */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

function send(c: Context, r: ApiResult): Response {
  if (r.status === 204 || c.req.method === 'HEAD') return c.body(null, r.status as 204);
  return c.json(r.body ?? {}, r.status as 400);
}

export function createSmsApp(d: SmsAppDeps): Hono {
  const { secrets, release, logger } = d;
  const app = new Hono();

  const secretBodyLimit = bodyLimit({
    maxSize: 64 * 1024,
    onError: (c) =>
      c.json(
        { error: { code: 'SECRET_TOO_LARGE', message: 'Secret size should not exceed 4096 bytes.' } },
        413,
      ),
  });
  const sessionBodyLimit = bodyLimit({
    maxSize: 2 * 1024 * 1024,
    onError: async (c) => {
      const message = 'Session requests are limited to 2 MiB.';
      await release.auditRefusal('SESSION_REQUEST_TOO_LARGE', message);
      return c.json({ error: { code: 'SESSION_REQUEST_TOO_LARGE', message } }, 413);
    },
  });

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

  app.onError((e, c) => {
    if (isChainUnavailable(e)) {
      logger.error('chain unavailable', { path: c.req.path, error: (e as Error).message });
      return c.json(
        {
          error: {
            code: 'CHAIN_UNAVAILABLE',
            message: 'The SMS cannot read the chain right now; retry later.',
          },
        },
        503,
      );
    }
    logger.error('internal error', {
      path: c.req.path,
      error: (e as Error).message,
      code: (e as { code?: string }).code,
    });
    return c.json({ error: { code: 'INTERNAL', message: 'Internal SMS error.' } }, 500);
  });

  app.get('/health', async (c) => c.json({ status: 'ok', ...(d.health ? await d.health() : {}) }));

  const auth = (c: Context) => c.req.header('Authorization') ?? undefined;
  // hono routes HEAD through GET handlers: answer existence for HEAD, and refuse reading secrets back.
  const head = (path: string, h: (c: Context) => Promise<Response>) =>
    app.get(path, (c) =>
      c.req.method === 'HEAD'
        ? h(c)
        : c.json(
            {
              error: {
                code: 'METHOD_NOT_ALLOWED',
                message: 'Secrets are never read back; use HEAD to check one exists.',
              },
            },
            405,
          ),
    );

  // Web3 (dataset keys)
  head('/secrets/web3', async (c) => send(c, await secrets.hasWeb3(c.req.query('secretAddress'))));
  app.post('/secrets/web3', secretBodyLimit, async (c) =>
    send(c, await secrets.pushWeb3(c.req.query('secretAddress'), await c.req.text(), auth(c))),
  );

  // Web2 (incl. the beneficiary's result-encryption key)
  head('/secrets/web2', async (c) =>
    send(c, await secrets.hasWeb2(c.req.query('ownerAddress'), c.req.query('secretName'))),
  );
  // POST creates, PUT replaces an existing one.
  const pushWeb2 = (update: boolean) => async (c: Context) =>
    send(
      c,
      await secrets.pushWeb2(
        c.req.query('ownerAddress'),
        c.req.query('secretName'),
        await c.req.text(),
        auth(c),
        update,
      ),
    );
  app.post('/secrets/web2', secretBodyLimit, pushWeb2(false));
  app.put('/secrets/web2', secretBodyLimit, pushWeb2(true));

  // App developer secret (iExec SDK v9 path and the older `/1`), and the app's file-system key.
  for (const path of ['/apps/:app/secrets', '/apps/:app/secrets/1']) {
    head(path, async (c) => send(c, await secrets.hasApp(c.req.param('app'), 'developer')));
    app.post(path, secretBodyLimit, async (c) =>
      send(c, await secrets.pushApp(c.req.param('app'), await c.req.text(), auth(c), 'developer')),
    );
  }
  head('/apps/:app/secrets/sealwork-fs-key', async (c) =>
    send(c, await secrets.hasApp(c.req.param('app'), 'fs-key')),
  );
  app.post('/apps/:app/secrets/sealwork-fs-key', secretBodyLimit, async (c) =>
    send(c, await secrets.pushApp(c.req.param('app'), await c.req.text(), auth(c), 'fs-key')),
  );

  // Requester secrets
  head('/requesters/:requester/secrets/:name', async (c) =>
    send(c, await secrets.hasRequester(c.req.param('requester'), c.req.param('name'))),
  );
  app.post('/requesters/:requester/secrets/:name', secretBodyLimit, async (c) =>
    send(
      c,
      await secrets.pushRequester(c.req.param('requester'), c.req.param('name'), await c.req.text(), auth(c)),
    ),
  );

  // Attested release
  app.post('/tee/challenges/:taskId', async (c) => {
    const r = await release.createChallenge(c.req.param('taskId'), auth(c));
    if (r.status === 200 && r.address) return c.text(r.address, 200);
    return send(c, r);
  });
  app.get('/tee/nonce', (c) => c.json(release.newNonce(), 200, { 'Cache-Control': 'no-store' }));
  app.post('/tee/sessions', sessionBodyLimit, async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      body = undefined;
    }
    const r = await release.openSession(body);
    if (r.status === 200 && r.response) return c.json(r.response, 200, { 'Cache-Control': 'no-store' });
    return send(c, r);
  });

  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `No route ${c.req.method} ${c.req.path}.` } }, 404),
  );
  return app;
}
