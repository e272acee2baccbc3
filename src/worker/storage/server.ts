import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { SealworkError, type ErrorCode } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { loadOrCreateTls } from '../../util/tls.js';
import { mountIpfsGateway } from './gateway.js';
import { addUnixfsFile, indexCid } from './ipfs.js';

/** Default largest object accepted: 1 GiB. */
export const DEFAULT_MAX_OBJECT_BYTES = 1024 * 1024 * 1024;

const HEX64 = /^(0x)?[0-9a-fA-F]{64}$/;

export const StorageOptionsSchema = z.object({
  /** Folder holding `objects/` and `tmp/`. */
  dir: z.string().min(1),
  maxObjectBytes: z.number().int().positive().default(DEFAULT_MAX_OBJECT_BYTES),
});
export type StorageOptions = z.input<typeof StorageOptionsSchema>;

function objectPath(dir: string, hex: string): string {
  return join(dir, 'objects', hex.slice(0, 2), hex);
}

function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

class TooLarge extends Error {}

/**
 * The content-addressed store as a hono app: `PUT /objects` (body = content) stores and answers
 * `{sha256, size, url}`; `PUT /objects/<sha256>` also checks the hash; `GET|HEAD /objects/<sha256>`
 * serve it. With `?ipfs=true` the object is also addressed the IPFS way: the answer adds its
 * UnixFS `cid` and `ipfsPath` (`/ipfs/<cid>`), served by `GET|HEAD /ipfs/<cid>` (gateway.ts).
 * Objects are immutable, written through a temp file + fsync + rename.
 */
export function createStorageApp(options: StorageOptions): Hono {
  const parsed = StorageOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new SealworkError('STORAGE_OPTIONS_INVALID', `Invalid storage options: ${parsed.error.message}`);
  const { dir, maxObjectBytes } = parsed.data;
  const app = new Hono();

  app.get('/health', (c) => c.json({ ok: true }));

  const put = async (
    c: { req: { raw: Request; url: string; header(n: string): string | undefined } },
    expected?: string,
  ) => {
    const len = c.req.header('content-length');
    if (len !== undefined && Number(len) > maxObjectBytes)
      return Response.json(errorBody('OBJECT_TOO_LARGE', `Object over the ${maxObjectBytes}-byte limit.`), {
        status: 413,
      });
    const body = c.req.raw.body;
    if (!body) return Response.json(errorBody('OBJECT_EMPTY', 'No request body.'), { status: 400 });
    await fs.mkdir(join(dir, 'tmp'), { recursive: true });
    const tmp = join(dir, 'tmp', `${randomBytes(8).toString('hex')}.partial`);
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxObjectBytes) return cb(new TooLarge());
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(Readable.fromWeb(body as unknown as NodeWebReadableStream), counter, out);
      const fh = await fs.open(tmp, 'r');
      await fh.sync();
      await fh.close();
    } catch (e) {
      await fs.rm(tmp, { force: true });
      if (e instanceof TooLarge)
        return Response.json(errorBody('OBJECT_TOO_LARGE', `Object over the ${maxObjectBytes}-byte limit.`), {
          status: 413,
        });
      throw e;
    }
    if (size === 0) {
      await fs.rm(tmp, { force: true });
      return Response.json(errorBody('OBJECT_EMPTY', 'Empty objects are not stored.'), { status: 400 });
    }
    const hex = hash.digest('hex');
    if (expected && expected !== hex) {
      await fs.rm(tmp, { force: true });
      return Response.json(
        errorBody('OBJECT_HASH_MISMATCH', `The body hashes to ${hex}, not to ${expected}.`),
        { status: 422 },
      );
    }
    const final = objectPath(dir, hex);
    await fs.mkdir(join(dir, 'objects', hex.slice(0, 2)), { recursive: true });
    let existed = false;
    try {
      await fs.access(final);
      existed = true;
      await fs.rm(tmp, { force: true });
    } catch {
      await fs.rename(tmp, final);
    }
    const reqUrl = new URL(c.req.url);
    const origin = reqUrl.origin;
    // `?ipfs=true`: also address it the IPFS way (UnixFS CID, blocks kept for the gateway).
    let cid: string | undefined;
    if (reqUrl.searchParams.get('ipfs') === 'true') {
      cid = await addUnixfsFile(dir, final);
      await indexCid(dir, cid, hex);
    }
    return Response.json(
      {
        sha256: `0x${hex}`,
        size,
        url: `${origin}/objects/${hex}`,
        ...(cid ? { cid, ipfsPath: `/ipfs/${cid}` } : {}),
      },
      { status: existed ? 200 : 201 },
    );
  };

  app.put('/objects', (c) => put(c));
  app.put('/objects/:hash', (c) => {
    const h = c.req.param('hash');
    if (!HEX64.test(h))
      return c.json(errorBody('OBJECT_ID_INVALID', 'Object ids are sha256 hex (64 digits).'), 400);
    return put(c, h.replace(/^0x/, '').toLowerCase());
  });

  const get = async (hashParam: string, head: boolean): Promise<Response> => {
    if (!HEX64.test(hashParam))
      return Response.json(errorBody('OBJECT_ID_INVALID', 'Object ids are sha256 hex (64 digits).'), {
        status: 400,
      });
    const hex = hashParam.replace(/^0x/, '').toLowerCase();
    const p = objectPath(dir, hex);
    let st;
    try {
      st = await fs.stat(p);
    } catch {
      return Response.json(errorBody('OBJECT_NOT_FOUND', `No object ${hex}.`), { status: 404 });
    }
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(st.size),
      etag: `"${hex}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    };
    if (head) return new Response(null, { status: 200, headers });
    return new Response(Readable.toWeb(createReadStream(p)) as unknown as ReadableStream, {
      status: 200,
      headers,
    });
  };
  mountIpfsGateway(app, dir);
  app.get('/objects/:hash', (c) => get(c.req.param('hash'), false));
  app.on('HEAD', '/objects/:hash', (c) => get(c.req.param('hash'), true));

  app.onError((err, c) => c.json(errorBody('STORAGE_INTERNAL', err.message), 500));
  app.notFound((c) => c.json(errorBody('NOT_FOUND', 'No such route.'), 404));
  return app;
}

export interface StartStorageParameters {
  /** State folder: objects under `<home>/storage/`, TLS under `<home>/storage/tls/`. */
  home: string;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** Serve plain HTTP instead of TLS (tests of proxies; default TLS). */
  insecureHttp?: boolean;
  maxObjectBytes?: number;
  /** Record the endpoint in `<home>/storage/endpoint.json` for `storage put` (default true). */
  writeEndpoint?: boolean;
}

export interface StorageServer {
  url: string;
  port: number;
  /** PEM certificate clients must trust (undefined over plain HTTP). */
  certPath: string | undefined;
  close(): Promise<void>;
}

/** Start the store on 127.0.0.1 (TLS with a self-signed certificate kept under the home). */
export async function startStorage(p: StartStorageParameters): Promise<StorageServer> {
  const dir = join(p.home, 'storage');
  await fs.mkdir(dir, { recursive: true });
  const app = createStorageApp({ dir, maxObjectBytes: p.maxObjectBytes });
  const host = p.host ?? '127.0.0.1';
  const tls = p.insecureHttp
    ? undefined
    : await loadOrCreateTls({ dir: join(dir, 'tls'), commonName: 'sealwork storage (self-signed)' });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname: host,
        port: p.port ?? 0,
        ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
      },
      () => resolve(s),
    );
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SealworkError(
          e.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'STORAGE_START_FAILED',
          e.code === 'EADDRINUSE'
            ? `Port ${p.port} is already in use.`
            : `Cannot start the storage: ${e.message}`,
          { hint: 'Choose another --port.', cause: e },
        ),
      ),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const endpointFile = join(dir, 'endpoint.json');
  if (p.writeEndpoint !== false)
    await writeFileAtomic(
      endpointFile,
      JSON.stringify({ url, pid: process.pid, certPath: tls?.certPath ?? null }, null, 2),
      { force: true },
    );
  return {
    url,
    port,
    certPath: tls?.certPath,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
        if (p.writeEndpoint !== false) void fs.rm(endpointFile, { force: true });
      }),
  };
}
