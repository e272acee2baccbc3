/**
 * Checks of a downloaded result against the chain, before anything reaches the user's folder:
 * - a content-addressed location (`…/objects/<sha256>`, the sealwork storage's URLs) must serve
 *   bytes that hash to that address (`RESULT_CONTENT_MISMATCH`);
 * - the plaintext result, unzipped into a private staging folder, must have the task's on-chain
 *   `resultDigest` under iExec's digest rules — the worker's own code, `computeResultDigest` of
 *   src/worker/postcompute.ts (`RESULT_DIGEST_MISMATCH`).
 *
 * The result key is public, so anyone who controls the storage, an http location or the worker's
 * wallet (`results` is not covered by the enclave signature) can serve a correctly encrypted
 * forgery: only the digest, which the enclave signed and the chain checked, tells them apart.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { SealworkError, isSealworkError } from '../../errors.js';
import { computeResultDigest, readComputedJson } from '../../worker/postcompute.js';
import { ipfsLocationCid, unixfsCid } from '../../worker/storage/ipfs.js';
import { unzipEntries } from '../../worker/zip.js';

/** Bounds of a downloaded result, unzipped (the worker's own bounds are smaller). */
const RESULT_LIMITS = { maxBytes: 1024 * 1024 * 1024, maxEntries: 100_000 };

/** The sha256 (hex, lower case) a location is addressed by, or undefined when it is not content-addressed. */
export function contentAddress(location: string): string | undefined {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  const m = /\/objects\/(?:0x)?([0-9a-fA-F]{64})$/.exec(u.pathname);
  return m ? m[1]!.toLowerCase() : undefined;
}

/**
 * Refuse bytes that do not hash to the content address of their location (`RESULT_CONTENT_MISMATCH`).
 * Returns true when the location is content-addressed (and matched), false when it is not.
 */
export function checkContentAddress(location: string, data: Buffer): boolean {
  const want = contentAddress(location);
  if (!want) return false;
  const got = createHash('sha256').update(data).digest();
  if (!timingSafeEqual(got, Buffer.from(want, 'hex')))
    throw new SealworkError(
      'RESULT_CONTENT_MISMATCH',
      `The result served at ${location} hashes to 0x${got.toString('hex')}, not to its address 0x${want}: the stored result was replaced.`,
      {
        hint: 'Do not use this result. Report it to the storage operator (or the workerpool).',
        details: { location, expected: `0x${want}`, found: `0x${got.toString('hex')}` },
      },
    );
  return true;
}

/**
 * An `/ipfs/<cid>` location: refuse bytes whose UnixFS CID (recomputed with the parameters of the
 * CID's version, as src/worker/storage/ipfs.ts) is not that CID (`RESULT_CONTENT_MISMATCH`).
 * Returns false when the location is not an IPFS one.
 */
export async function checkIpfsAddress(location: string, data: Buffer): Promise<boolean> {
  const want = ipfsLocationCid(location);
  if (!want) return false;
  const got = await unixfsCid(data, want);
  if (got.toString() !== want.toString())
    throw new SealworkError(
      'RESULT_CONTENT_MISMATCH',
      `The result served for ${location} has the UnixFS CID ${got.toString()}, not ${want.toString()}: the gateway served other bytes.`,
      {
        hint: 'Do not use this result. Try another IPFS gateway (--ipfs-gateway), or report it to the workerpool.',
        details: { location, expected: want.toString(), found: got.toString() },
      },
    );
  return true;
}

/**
 * A fresh staging folder (0700) beside `out`, so that the final move is a rename on the same file
 * system. Its parent is created (0700) when missing.
 */
export async function stagingFolder(out: string): Promise<string> {
  await fs.mkdir(dirname(out), { recursive: true, mode: 0o700 });
  return fs.mkdtemp(join(dirname(out), `.${basename(out)}.partial-`));
}

/**
 * Write the entries of a result zip under `dir`: files 0600, folders 0700 (a plaintext result is
 * as secret as the dataset it came from). Returns the relative paths, in zip order.
 */
export async function writeResultEntries(zip: Buffer, dir: string): Promise<string[]> {
  const entries = await unzipEntries(zip, RESULT_LIMITS);
  const names: string[] = [];
  for (const [name, data] of entries) {
    const target = join(dir, ...name.split('/'));
    await fs.mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await fs.writeFile(target, data, { mode: 0o600, flag: 'wx' });
    names.push(name);
  }
  return names;
}

/** The digest of an unzipped result folder under iExec's rules (computed.json names the output). */
export async function resultFolderDigest(dir: string): Promise<`0x${string}`> {
  const computed = await readComputedJson(dir);
  return computeResultDigest(dir, computed, RESULT_LIMITS);
}

/** Refuse an unzipped result whose digest is not the task's on-chain `resultDigest` (`RESULT_DIGEST_MISMATCH`). */
export async function checkResultDigest(dir: string, expected: string, taskId: string): Promise<void> {
  let got: string;
  try {
    got = await resultFolderDigest(dir);
  } catch (e) {
    if (!isSealworkError(e)) throw e;
    throw new SealworkError(
      'RESULT_DIGEST_MISMATCH',
      `The result of task ${taskId} has no digest under iExec's rules (${e.code}): it is not the result the enclave signed.`,
      {
        hint: 'Do not use this result. Report it to the storage operator (or the workerpool).',
        details: { taskId, expected },
        cause: e,
      },
    );
  }
  if (got.toLowerCase() !== expected.toLowerCase())
    throw new SealworkError(
      'RESULT_DIGEST_MISMATCH',
      `The result of task ${taskId} has digest ${got}, not the on-chain digest ${expected}: it is not the result the enclave signed.`,
      {
        hint: 'Do not use this result. Report it to the storage operator (or the workerpool).',
        details: { taskId, expected, found: got },
      },
    );
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(relative(base, p));
  }
  return out.sort();
}

/**
 * Move a verified staging folder to `out`: a rename when `out` does not exist, else file by file
 * (every existing file refused unless `force`, checked before the first move). Returns the files.
 */
export async function publishStaged(stage: string, out: string, force: boolean): Promise<string[]> {
  const rels = await listFiles(stage);
  const st = await fs.lstat(out).catch(() => undefined);
  if (!st) {
    await fs.rename(stage, out);
    return rels.map((r) => join(out, r));
  }
  if (!st.isDirectory())
    throw new SealworkError('OUTPUT_EXISTS', `Output ${out} already exists and is not a folder.`, {
      hint: 'Choose another --out folder.',
      details: { path: out },
    });
  if (!force)
    for (const r of rels)
      if (await fs.lstat(join(out, r)).catch(() => undefined))
        throw new SealworkError('OUTPUT_EXISTS', `Output ${join(out, r)} already exists.`, {
          hint: 'Choose another path or pass --force to overwrite.',
          details: { path: join(out, r) },
        });
  const files: string[] = [];
  for (const r of rels) {
    const target = join(out, r);
    if (r.includes(sep)) await fs.mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await fs.rename(join(stage, r), target);
    files.push(target);
  }
  return files;
}
