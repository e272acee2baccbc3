/**
 * IPFS-style content addressing of stored objects: UnixFS CIDs computed with the maintained IPFS
 * libraries (`ipfs-unixfs-importer`, `multiformats`), as a Kubo node would, and the blocks of each
 * DAG kept so that the storage serves `/ipfs/<cid>` as a trustless gateway (raw blocks that any
 * client can hash and check) besides the file itself.
 *
 * Parameters (Kubo's for the CID version): CIDv1 → raw leaves; CIDv0 → dag-pb leaves; chunks of
 * 256 KiB, balanced DAG of at most 174 links per node, sha2-256. A single-chunk file with raw
 * leaves is one raw block whose CID hashes the file itself.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CarWriter } from '@ipld/car/writer';
import * as dagPb from '@ipld/dag-pb';
import { importByteStream, type ImporterOptions } from 'ipfs-unixfs-importer';
import { CID } from 'multiformats/cid';
import { writeFileAtomic } from '../../util/atomic.js';

/** The importer options for a CID version (sealwork writes CIDv1). */
function importerOptions(version: 0 | 1): Partial<ImporterOptions> {
  return version === 0
    ? { cidVersion: 0, rawLeaves: false, reduceSingleLeafToSelf: true }
    : { cidVersion: 1, rawLeaves: true, reduceSingleLeafToSelf: true };
}

type BlockSink = { put(cid: CID, bytes: Uint8Array): Promise<CID> };

/** A sink that keeps nothing: computing a CID only. */
const discard: BlockSink = { put: async (cid) => cid };

/** The blocks folder of a store: `<dir>/blocks/<cid>` (one file a block, immutable). */
function blockSink(dir: string): BlockSink {
  return {
    async put(cid, bytes) {
      const p = join(dir, 'blocks', cid.toString());
      try {
        await fs.access(p);
      } catch {
        await fs.mkdir(join(dir, 'blocks'), { recursive: true });
        await writeFileAtomic(p, Buffer.from(bytes), { force: true });
      }
      return cid;
    },
  };
}

async function importStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sink: BlockSink,
  version: 0 | 1,
): Promise<CID> {
  const r = await importByteStream(source, sink as never, importerOptions(version));
  return r.cid as unknown as CID;
}

/** The UnixFS CID (v1, raw leaves) of a file, its blocks written under `<dir>/blocks/`. */
export async function addUnixfsFile(dir: string, file: string): Promise<string> {
  return (await importStream(createReadStream(file), blockSink(dir), 1)).toString();
}

/** The UnixFS CID of bytes, with the parameters of `like`'s CID version (default v1). */
export async function unixfsCid(data: Uint8Array, like?: CID): Promise<CID> {
  const version = like?.version === 0 ? 0 : 1;
  return importStream([data], discard, version);
}

/** Parse a CID (v0 `Qm…` or v1 multibase); undefined when it is not one. */
export function parseCid(text: string): CID | undefined {
  try {
    return CID.parse(text);
  } catch {
    return undefined;
  }
}

/** The CID of an `/ipfs/<cid>` or `ipfs://<cid>` location (no sub-path), else undefined. */
export function ipfsLocationCid(location: string): CID | undefined {
  const m = /^(?:\/ipfs\/|ipfs:\/\/)([A-Za-z0-9]+)\/?$/.exec(location);
  return m ? parseCid(m[1]!) : undefined;
}

/** The bytes of a stored block, or undefined. */
export async function readBlock(dir: string, cid: CID): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(join(dir, 'blocks', cid.toString()));
  } catch {
    return undefined;
  }
}

/** The index of a store: `<dir>/ipfs/<cid>` holds the sha256 (hex) of the object that CID names. */
export async function indexCid(dir: string, cid: string, sha256Hex: string): Promise<void> {
  await fs.mkdir(join(dir, 'ipfs'), { recursive: true });
  await writeFileAtomic(join(dir, 'ipfs', cid), sha256Hex, { force: true });
}

/** The sha256 (hex) of the object a root CID names, or undefined. */
export async function objectOfCid(dir: string, cid: CID): Promise<string | undefined> {
  try {
    const hex = (await fs.readFile(join(dir, 'ipfs', cid.toString()), 'utf8')).trim();
    return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A CAR (v1) of the DAG under `root`, blocks in depth-first order (root first), as a trustless
 * gateway answers `application/vnd.ipld.car`; undefined when a block is missing.
 */
export async function dagAsCar(dir: string, root: CID): Promise<Buffer | undefined> {
  const blocks: { cid: CID; bytes: Uint8Array }[] = [];
  const visit = async (cid: CID): Promise<boolean> => {
    const bytes = await readBlock(dir, cid);
    if (!bytes) return false;
    blocks.push({ cid, bytes });
    if (cid.code !== dagPb.code) return true;
    for (const link of dagPb.decode(bytes).Links) if (!(await visit(link.Hash))) return false;
    return true;
  };
  if (!(await visit(root))) return undefined;
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    for await (const c of out) chunks.push(c);
  })();
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await reading;
  return Buffer.concat(chunks);
}
