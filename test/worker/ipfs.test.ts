/**
 * IPFS-style addressing of the storage: UnixFS CIDs from the IPFS libraries, and `/ipfs/<cid>`
 * served as a gateway (raw blocks a client can verify, and the file itself).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { isSealworkError } from '../../src/errors.js';
import { checkIpfsAddress } from '../../src/sdk/worker/result-verify.js';
import { ipfsLocationCid, unixfsCid } from '../../src/worker/storage/ipfs.js';
import { createStorageApp } from '../../src/worker/storage/server.js';
import { tempDir } from '../helpers/cli.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
/** CIDv1 of a raw block, computed independently: multihash sha2-256 (0x12) of the bytes, codec raw. */
const rawCid = (b: Uint8Array) => CID.createV1(raw.code, digestOf(0x12, sha256(b)));

describe('UnixFS CIDs', () => {
  it('a file of one chunk is one raw block (CIDv1 = sha256 of the bytes); a larger one is a dag-pb root', async () => {
    const small = randomBytes(1000);
    assert.equal((await unixfsCid(small)).toString(), rawCid(small).toString());
    const big = randomBytes(300 * 1024); // two 256 KiB chunks
    const root = await unixfsCid(big);
    assert.equal(root.version, 1);
    assert.equal(root.code, 0x70, 'dag-pb');
    assert.notEqual(root.toString(), rawCid(big).toString());
    // CIDv0 (Kubo's default): the same file under v0 parameters gives a Qm… CID.
    const v0 = await unixfsCid(small, CID.parse('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'));
    assert.equal(v0.version, 0);
    assert.match(v0.toString(), /^Qm/);
  });

  it('checkIpfsAddress accepts the bytes of the CID and refuses others', async () => {
    const data = randomBytes(2000);
    const cid = await unixfsCid(data);
    assert.equal(ipfsLocationCid(`/ipfs/${cid}`)?.toString(), cid.toString());
    assert.equal(ipfsLocationCid('https://h/objects/ab'), undefined);
    assert.equal(await checkIpfsAddress(`/ipfs/${cid}`, data), true);
    assert.equal(await checkIpfsAddress('https://h/objects/ab', data), false);
    const other = Buffer.from(data);
    other[0] = other[0]! ^ 1;
    await assert.rejects(checkIpfsAddress(`/ipfs/${cid}`, other), (e) =>
      isSealworkError(e, 'RESULT_CONTENT_MISMATCH'),
    );
  });
});

describe('storage: /ipfs/<cid> gateway', () => {
  const t = tempDir();
  const app = createStorageApp({ dir: t.dir, maxObjectBytes: 4 * 1024 * 1024 });
  after(t.cleanup);

  it('PUT ?ipfs=true answers the CID; GET serves the file, raw blocks that hash to their CID, and the DAG as a CAR', async () => {
    const data = randomBytes(600 * 1024); // three chunks: a dag-pb root over three raw leaves
    const put = await app.request('http://x/objects?ipfs=true', { method: 'PUT', body: data });
    assert.equal(put.status, 201);
    const j = (await put.json()) as { cid: string; ipfsPath: string; sha256: string };
    assert.equal(j.cid, (await unixfsCid(data)).toString());
    assert.equal(j.ipfsPath, `/ipfs/${j.cid}`);
    const file = await app.request(`http://x/ipfs/${j.cid}`, { headers: { accept: 'application/zip' } });
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), data);
    const head = await app.request(`http://x/ipfs/${j.cid}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(data.length));
    // The root block, as a trustless gateway serves it: its bytes hash to the CID's multihash.
    const block = await app.request(`http://x/ipfs/${j.cid}?format=raw`);
    assert.equal(block.status, 200);
    assert.equal(block.headers.get('content-type'), 'application/vnd.ipld.raw');
    const bytes = new Uint8Array(await block.arrayBuffer());
    const root = CID.parse(j.cid);
    assert.deepEqual(Buffer.from(sha256(bytes)), Buffer.from(root.multihash.digest));
    // Each leaf linked from the root is served too (by Accept), and is a slice of the file.
    const { decode } = await import('@ipld/dag-pb');
    const links = decode(bytes).Links;
    assert.equal(links.length, 3);
    const first = await app.request(`http://x/ipfs/${links[0]!.Hash.toString()}`, {
      headers: { accept: 'application/vnd.ipld.raw' },
    });
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), data.subarray(0, 256 * 1024));
    // The whole DAG as a CAR: the root named in its header, every block once, each hashing to its CID.
    const car = await app.request(`http://x/ipfs/${j.cid}`, {
      headers: { accept: 'application/vnd.ipld.car' },
    });
    assert.equal(car.status, 200);
    const { CarReader } = await import('@ipld/car/reader');
    const reader = await CarReader.fromBytes(new Uint8Array(await car.arrayBuffer()));
    assert.deepEqual((await reader.getRoots()).map(String), [j.cid]);
    const inCar: string[] = [];
    for await (const b of reader.blocks()) {
      assert.deepEqual(Buffer.from(sha256(b.bytes)), Buffer.from(b.cid.multihash.digest));
      inCar.push(b.cid.toString());
    }
    assert.deepEqual(inCar, [j.cid, ...links.map((l) => l.Hash.toString())]);
    assert.equal((await app.request(`http://x/ipfs/${j.cid}?format=tar`)).status, 406);
    // Unknown CIDs, and text that is no CID.
    const unknown = await app.request(`http://x/ipfs/${rawCid(randomBytes(8)).toString()}`);
    assert.equal(unknown.status, 404);
    const bad = await app.request('http://x/ipfs/not-a-cid');
    assert.equal(bad.status, 400);
    // Without ?ipfs=true an object has no CID (plain sha256 addressing, nothing more stored).
    const plain = await app.request('http://x/objects', { method: 'PUT', body: randomBytes(100) });
    assert.equal(((await plain.json()) as { cid?: string }).cid, undefined);
  });
});
