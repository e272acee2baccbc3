/**
 * `GET|HEAD /ipfs/<cid>` of the storage: an IPFS gateway over the objects stored with `?ipfs=true`.
 * - `?format=raw` or `Accept: application/vnd.ipld.raw`: the block of that CID, as a trustless
 *   gateway serves it (the client hashes it and checks it against the CID);
 * - `?format=car` or `Accept: application/vnd.ipld.car`: the whole DAG as a CAR v1 (root first,
 *   depth-first), which a client verifies block by block;
 * - otherwise, the file a root CID names (what the iexec SDK's `task.fetchResults` asks for).
 */
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Hono } from 'hono';
import type { ErrorCode } from '../../errors.js';
import { dagAsCar, objectOfCid, parseCid, readBlock } from './ipfs.js';

const json = (status: number, code: ErrorCode, message: string) =>
  Response.json({ error: { code, message } }, { status });

export function mountIpfsGateway(app: Hono, dir: string): void {
  const serve = async (req: Request, cidText: string, head: boolean): Promise<Response> => {
    const cid = parseCid(cidText);
    if (!cid) return json(400, 'OBJECT_ID_INVALID', `${cidText} is not a CID.`);
    const url = new URL(req.url);
    const accept = req.headers.get('accept') ?? '';
    const format = url.searchParams.get('format') ?? '';
    const common = {
      'x-ipfs-path': `/ipfs/${cid.toString()}`,
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=29030400, immutable',
    };
    if (format === 'car' || accept.includes('application/vnd.ipld.car')) {
      const car = await dagAsCar(dir, cid);
      if (!car) return json(404, 'OBJECT_NOT_FOUND', `No DAG ${cid.toString()}.`);
      const headers = {
        ...common,
        'content-type': 'application/vnd.ipld.car; version=1',
        'content-length': String(car.length),
        etag: `"${cid.toString()}.car"`,
      };
      return new Response(head ? null : car, { status: 200, headers });
    }
    if (format && format !== 'raw')
      return json(406, 'FORMAT_NOT_SERVED', `Format ${format} is not served: ask for raw or car.`);
    if (format === 'raw' || accept.includes('application/vnd.ipld.raw')) {
      const block = await readBlock(dir, cid);
      if (!block) return json(404, 'OBJECT_NOT_FOUND', `No block ${cid.toString()}.`);
      const headers = {
        ...common,
        'content-type': 'application/vnd.ipld.raw',
        'content-length': String(block.length),
        etag: `"${cid.toString()}.raw"`,
      };
      return new Response(head ? null : block, { status: 200, headers });
    }
    const hex = await objectOfCid(dir, cid);
    if (!hex) return json(404, 'OBJECT_NOT_FOUND', `No file ${cid.toString()}.`);
    const p = join(dir, 'objects', hex.slice(0, 2), hex);
    const st = await fs.stat(p).catch(() => undefined);
    if (!st) return json(404, 'OBJECT_NOT_FOUND', `No file ${cid.toString()}.`);
    const headers = {
      ...common,
      'content-type': 'application/octet-stream',
      'content-length': String(st.size),
      etag: `"${cid.toString()}"`,
    };
    if (head) return new Response(null, { status: 200, headers });
    return new Response(Readable.toWeb(createReadStream(p)) as unknown as ReadableStream, {
      status: 200,
      headers,
    });
  };
  app.get('/ipfs/:cid', (c) => serve(c.req.raw, c.req.param('cid'), false));
  app.on('HEAD', '/ipfs/:cid', (c) => serve(c.req.raw, c.req.param('cid'), true));
}
