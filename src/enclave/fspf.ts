/**
 * The file system protection file (FSPF), after SCONE's file shield.
 *
 * Regions are path prefixes (component-wise, longest wins): `not-protected`, `authenticated`
 * (content hash, mode and link target recorded), `encrypted` (authenticated, and stored encrypted
 * with AES-256-GCM under a per-region key). The FSPF is a JSON document listing the regions and
 * every file of the protected regions; on disk (`/.sealwork/fspf`) it is
 *
 *   "SWFSPF01" ‖ IV (12) ‖ AES-256-GCM(FSPF_KEY, IV, json, aad = "SWFSPF01") ‖ TAG (16)
 *
 * and FSPF_TAG is that GCM tag: it authenticates the whole file-system state. An encrypted file is
 * stored at its own path as IV (12) ‖ ciphertext ‖ tag (16), with aad = "sealwork-fspf-file:" + path
 * (so moving it elsewhere breaks it). IVs are derived from key and content (HMAC-SHA256), which
 * makes builds reproducible for a given key and never reuses an IV for different content.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { SealworkError, fsError, type ErrorCode } from '../errors.js';
import type { EnclaveConfig } from './mrenclave.js';
import { components, imagePath, isHex, underPrefix } from './util.js';

export type Protection = 'not-protected' | 'authenticated' | 'encrypted';
export const PROTECTIONS: readonly Protection[] = ['not-protected', 'authenticated', 'encrypted'];

export interface Region {
  path: string;
  protection: Protection;
}

export interface FspfEntry {
  path: string;
  type: 'file' | 'symlink';
  /** Permission bits (files). */
  mode?: number;
  size?: number;
  /** sha256 (hex) of the plaintext content (files) or of the link target (symlinks). */
  sha256: string;
  /** Symlink target. */
  target?: string;
  /** For files of encrypted regions: sha256 of the stored (encrypted) form. */
  cipherSha256?: string;
}

/**
 * The enclave identity sealed into the FSPF: the tag then authenticates MrEnclave, the measured
 * program and the configuration too, so key and tag alone (without an expected MrEnclave) refuse
 * a swapped binary or an edited `/.sealwork/enclave.json`.
 */
export interface FspfEnclave extends EnclaveConfig {
  mrenclave: string;
  /** Image path of the measured executable (a script's interpreter). */
  measured: string;
}

export interface Fspf {
  format: 'sealwork-fspf';
  /** 2: the enclave identity is sealed in (`enclave`). Version 1 FSPFs are refused: rebuild. */
  version: 2;
  regions: Region[];
  entries: FspfEntry[];
  /** The image's environment and working folder, authenticated with the files. */
  env: string[];
  workingDir: string;
  enclave: FspfEnclave;
}

/** The per-region keys of encrypted regions: the file-system key file (JSON, mode 0600). */
export interface FsKeys {
  format: 'sealwork-fs-keys';
  version: 1;
  /** Region path → AES-256 key (hex). */
  regions: Record<string, string>;
}

export const SEALWORK_DIR = '/.sealwork';
export const FSPF_PATH = '/.sealwork/fspf';
export const ENCLAVE_JSON_PATH = '/.sealwork/enclave.json';
const MAGIC = Buffer.from('SWFSPF01', 'latin1');
const FILE_AAD = 'sealwork-fspf-file:';

// ------------------------------------------------------------------------------ regions

/** Parse `/path:protection`. */
export function parseRegion(spec: string): Region {
  const i = spec.lastIndexOf(':');
  const path = i > 0 ? spec.slice(0, i) : '';
  const protection = spec.slice(i + 1) as Protection;
  if (i <= 0 || !path.startsWith('/') || !PROTECTIONS.includes(protection))
    throw new SealworkError('REGION_INVALID', `Invalid region "${spec}".`, {
      hint: 'Write /path:protection, protection one of not-protected, authenticated, encrypted (e.g. /data:encrypted).',
    });
  return { path: imagePath(path, 'REGION_INVALID'), protection };
}

/** Validate regions: default `/` authenticated; `/` required once several exist; no duplicates. */
export function normalizeRegions(input?: (Region | string)[]): Region[] {
  const regions = (input ?? []).map((r) =>
    typeof r === 'string' ? parseRegion(r) : parseRegion(`${r.path}:${r.protection}`),
  );
  if (regions.length === 0) return [{ path: '/', protection: 'authenticated' }];
  const seen = new Set<string>();
  for (const r of regions) {
    if (seen.has(r.path))
      throw new SealworkError('REGION_INVALID', `Region ${r.path} is given twice.`, {
        hint: 'Give each path once.',
      });
    if (r.path === SEALWORK_DIR || underPrefix(r.path, SEALWORK_DIR))
      throw new SealworkError('REGION_INVALID', `${SEALWORK_DIR} is reserved for the FSPF.`, {
        hint: 'Choose another path.',
      });
    seen.add(r.path);
  }
  if (regions.length > 1 && !seen.has('/'))
    throw new SealworkError('REGION_ROOT_REQUIRED', 'Several regions are given but none for "/".', {
      hint: 'Add --region /:not-protected (or /:authenticated) to say how the rest of the image is treated.',
    });
  if (regions.length === 1 && regions[0]!.path !== '/')
    regions.push({ path: '/', protection: 'not-protected' });
  return regions.sort(
    (a, b) => components(a.path).length - components(b.path).length || a.path.localeCompare(b.path),
  );
}

/** The region covering `path` (longest prefix). */
export function regionOf(path: string, regions: Region[]): Region {
  let best: Region | undefined;
  for (const r of regions)
    if (underPrefix(path, r.path) && (!best || components(r.path).length > components(best.path).length))
      best = r;
  return best ?? { path: '/', protection: 'not-protected' };
}

// ------------------------------------------------------------------------------ crypto

function deriveIv(key: Buffer, ...parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest().subarray(0, 12);
}

/** Encrypt the FSPF; returns the stored blob and FSPF_TAG. */
export function sealFspf(fspf: Fspf, key: Buffer): { blob: Buffer; tag: Buffer } {
  const plain = Buffer.from(JSON.stringify(fspf));
  const iv = deriveIv(key, 'fspf-iv', plain);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(MAGIC);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const tag = c.getAuthTag();
  return { blob: Buffer.concat([MAGIC, iv, ct, tag]), tag };
}

/** The tag stored at the end of an FSPF blob (what `app measure` reports). */
export function storedFspfTag(blob: Buffer): Buffer {
  if (blob.length < MAGIC.length + 28 || !blob.subarray(0, MAGIC.length).equals(MAGIC))
    throw new SealworkError('FSPF_INVALID', `${FSPF_PATH} is not an FSPF.`, {
      hint: 'The image is not a protected image; build it with `sealwork app build`.',
      details: { file: FSPF_PATH },
    });
  return blob.subarray(blob.length - 16);
}

/**
 * Decrypt and authenticate the FSPF with the given key and tag (the tag given, not the stored one,
 * is what GCM checks). Wrong key, wrong tag or a modified FSPF: FSPF_AUTH_FAILED.
 */
export function openFspf(blob: Buffer, key: Buffer, tag: Buffer): Fspf {
  storedFspfTag(blob);
  const iv = blob.subarray(MAGIC.length, MAGIC.length + 12);
  const ct = blob.subarray(MAGIC.length + 12, blob.length - 16);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(MAGIC);
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(ct), d.final()]);
  } catch (e) {
    throw new SealworkError(
      'FSPF_AUTH_FAILED',
      `Refusing to start: ${FSPF_PATH} does not authenticate with the given FSPF key and tag.`,
      {
        hint: 'The key or tag is wrong, or the FSPF was modified. Use the fingerprint printed by `sealwork app build` for this image.',
        details: { file: FSPF_PATH },
        cause: e,
      },
    );
  }
  const fspf = JSON.parse(plain.toString('utf8')) as Fspf;
  const invalid = () =>
    new SealworkError('FSPF_INVALID', `${FSPF_PATH} has an unknown format or invalid paths.`, {
      hint: 'Rebuild the image with `sealwork app build`.',
      details: { file: FSPF_PATH },
    });
  if (fspf?.format === 'sealwork-fspf' && (fspf.version as number) === 1)
    throw new SealworkError(
      'FSPF_INVALID',
      `${FSPF_PATH} was written by an older sealwork (FSPF version 1, without the sealed enclave identity).`,
      {
        hint: 'Rebuild the image with `sealwork app build` and deploy its new fingerprint.',
        details: { file: FSPF_PATH },
      },
    );
  const enc = fspf?.enclave;
  if (
    fspf?.format !== 'sealwork-fspf' ||
    fspf.version !== 2 ||
    !Array.isArray(fspf.entries) ||
    !Array.isArray(fspf.env) ||
    typeof enc !== 'object' ||
    enc === null ||
    typeof enc.mrenclave !== 'string' ||
    !isHex(enc.mrenclave, 32) ||
    typeof enc.measured !== 'string' ||
    !Array.isArray(enc.entrypoint) ||
    !enc.entrypoint.every((a) => typeof a === 'string')
  )
    throw invalid();
  // Authenticated, but written by the app's builder: never let a path climb out of a host folder.
  try {
    fspf.regions = normalizeRegions(fspf.regions);
    for (const e of fspf.entries) if (imagePath(e.path) !== e.path || e.path === '/') throw invalid();
    if (imagePath(enc.measured) !== enc.measured) throw invalid();
  } catch {
    throw invalid();
  }
  return fspf;
}

export function encryptFile(plain: Buffer, key: Buffer, path: string): Buffer {
  const iv = deriveIv(key, 'file-iv', path, '\0', createHash('sha256').update(plain).digest());
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(FILE_AAD + path));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]);
}

/** Decrypt an encrypted-region file; null when it does not authenticate. */
export function decryptFile(blob: Buffer, key: Buffer, path: string): Buffer | null {
  if (blob.length < 28) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
    d.setAAD(Buffer.from(FILE_AAD + path));
    d.setAuthTag(blob.subarray(blob.length - 16));
    return Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
  } catch {
    return null;
  }
}

export function newFsKeys(regions: Region[], given?: Record<string, string>): FsKeys {
  const out: Record<string, string> = {};
  for (const r of regions)
    if (r.protection === 'encrypted') out[r.path] = given?.[r.path] ?? randomBytes(32).toString('hex');
  return { format: 'sealwork-fs-keys', version: 1, regions: out };
}

/** Parse the file-system key file (JSON text or object). */
export function parseFsKeys(input: string | FsKeys, where = 'file-system key'): FsKeys {
  let obj: any = input;
  try {
    if (typeof input === 'string') obj = JSON.parse(input);
  } catch {
    obj = null;
  }
  const ok =
    obj?.format === 'sealwork-fs-keys' &&
    obj.version === 1 &&
    obj.regions &&
    typeof obj.regions === 'object' &&
    Object.values(obj.regions).every((k) => typeof k === 'string' && isHex(k, 32));
  if (!ok)
    throw new SealworkError('FS_KEY_INVALID', `The ${where} is not a sealwork file-system key file.`, {
      hint: 'Use the key file written by `sealwork app build` (JSON with one hex key per encrypted region).',
    });
  return obj as FsKeys;
}

/** Read and parse a file-system key file (errors name the file, never a key). */
export async function readFsKeyFile(path: string): Promise<FsKeys> {
  const text = await fs.readFile(path, 'utf8').catch((e) => {
    throw fsError(e, path, 'read file-system key file');
  });
  return parseFsKeys(text, `file-system key file ${path}`);
}

// ------------------------------------------------------------------------------ scanning

export interface RootEntry {
  path: string;
  host: string;
  type: 'file' | 'symlink' | 'dir' | 'other';
}

/** Every entry under `root` (no link followed), sorted by path; `/.sealwork` included. */
export async function walkRoot(root: string): Promise<RootEntry[]> {
  const out: RootEntry[] = [];
  const visit = async (dir: string, prefix: string) => {
    const items = await fs.readdir(dir, { withFileTypes: true });
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of items) {
      const path = `${prefix}/${d.name}`;
      const host = join(dir, d.name);
      if (d.isDirectory()) {
        out.push({ path, host, type: 'dir' });
        await visit(host, path);
      } else out.push({ path, host, type: d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : 'other' });
    }
  };
  await visit(root, '');
  return out;
}

export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Record the protected files of a plaintext root. Files of encrypted regions are encrypted with
 * their region key; `onEncrypted` receives the stored form for the extra layer.
 */
export async function buildFspf(
  root: string,
  regions: Region[],
  meta: { env: string[]; workingDir: string; enclave: FspfEnclave },
  keys: FsKeys,
  onEncrypted: (path: string, stored: Buffer, mode: number) => Promise<void>,
): Promise<{ fspf: Fspf; encrypted: Set<string> }> {
  const entries: FspfEntry[] = [];
  const encrypted = new Set<string>();
  for (const e of await walkRoot(root)) {
    if (e.path === SEALWORK_DIR || underPrefix(e.path, SEALWORK_DIR)) continue;
    const region = regionOf(e.path, regions);
    if (region.protection === 'not-protected' || e.type === 'dir') continue;
    if (e.type === 'symlink') {
      const target = await fs.readlink(e.host);
      entries.push({ path: e.path, type: 'symlink', target, sha256: sha(target) });
    } else if (e.type === 'file') {
      const st = await fs.lstat(e.host);
      const mode = st.mode & 0o1777;
      if (region.protection === 'encrypted') {
        const plain = await fs.readFile(e.host);
        const stored = encryptFile(plain, Buffer.from(keys.regions[region.path]!, 'hex'), e.path);
        entries.push({
          path: e.path,
          type: 'file',
          mode,
          size: plain.length,
          sha256: sha(plain),
          cipherSha256: sha(stored),
        });
        encrypted.add(e.path);
        await onEncrypted(e.path, stored, mode);
      } else
        entries.push({ path: e.path, type: 'file', mode, size: st.size, sha256: await sha256OfFile(e.host) });
    }
  }
  return { fspf: { format: 'sealwork-fspf', version: 2, regions, entries, ...meta }, encrypted };
}

export interface VerifyProblem {
  kind: 'changed' | 'added' | 'removed' | 'renamed' | 'undecryptable';
  file: string;
  detail: string;
  renamedTo?: string;
}

const CODES: Record<VerifyProblem['kind'], ErrorCode> = {
  changed: 'FSPF_FILE_CHANGED',
  added: 'FSPF_FILE_ADDED',
  removed: 'FSPF_FILE_MISSING',
  renamed: 'FSPF_FILE_RENAMED',
  undecryptable: 'FS_KEY_WRONG',
};

export interface VerifyRootOptions {
  keys?: FsKeys;
  decryptTo?: string;
  allowedSealworkFiles?: string[];
}

/**
 * The files and links of an unpacked root, by image path; `problems` gets what may never be
 * there (unknown files under `/.sealwork`, special files).
 */
async function scanRoot(
  root: string,
  allowed: Set<string>,
  problems: VerifyProblem[],
): Promise<Map<string, RootEntry>> {
  const actual = new Map<string, RootEntry>();
  for (const e of await walkRoot(root)) {
    if (e.path === SEALWORK_DIR) continue;
    if (underPrefix(e.path, SEALWORK_DIR)) {
      if (!allowed.has(e.path))
        problems.push({
          kind: 'added',
          file: e.path,
          detail: `${e.path} is not part of a protected image's ${SEALWORK_DIR}`,
        });
      continue;
    }
    if (e.type === 'other')
      problems.push({ kind: 'added', file: e.path, detail: `${e.path} is a special file` });
    else if (e.type !== 'dir') actual.set(e.path, e);
  }
  return actual;
}

/** sha256 of a file's content or a link's target, each computed once. */
function entryHasher(): (e: RootEntry) => Promise<string> {
  const cache = new Map<string, string>();
  return async (e) => {
    let h = cache.get(e.path);
    if (h === undefined) {
      h = e.type === 'symlink' ? sha(await fs.readlink(e.host)) : await sha256OfFile(e.host);
      cache.set(e.path, h);
    }
    return h;
  };
}

/**
 * Decrypt a file of an encrypted region into `decryptTo` (same relative path), checked against
 * its plaintext hash; a problem when it does not decrypt with its region's key.
 */
async function decryptEntry(
  want: FspfEntry,
  got: RootEntry,
  region: Region,
  keys: FsKeys,
  decryptTo: string,
): Promise<VerifyProblem | null> {
  const k = keys.regions[region.path];
  const plain = k ? decryptFile(await fs.readFile(got.host), Buffer.from(k, 'hex'), want.path) : null;
  if (!plain || sha(plain) !== want.sha256)
    return {
      kind: 'undecryptable',
      file: want.path,
      detail: `${want.path} does not decrypt with the file-system key of region ${region.path}`,
    };
  const dest = join(decryptTo, ...components(want.path));
  await fs.mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  await fs.writeFile(dest, plain, { mode: want.mode ?? 0o644, flag: 'wx' });
  plain.fill(0);
  return null;
}

/**
 * Check one recorded entry against what is in the root: type, link target, permissions, content
 * (the stored form in encrypted regions, decrypted too with keys). Returns the problem, if any,
 * and whether the file was decrypted.
 */
async function checkEntry(
  want: FspfEntry,
  got: RootEntry,
  region: Region,
  hashOf: (e: RootEntry) => Promise<string>,
  opts: VerifyRootOptions,
): Promise<{ problem: VerifyProblem | null; decrypted: boolean }> {
  const fail = (kind: VerifyProblem['kind'], detail: string) => ({
    problem: { kind, file: want.path, detail },
    decrypted: false,
  });
  const ok = { problem: null, decrypted: false };
  if (got.type !== want.type)
    return fail('changed', `${want.path} was a ${want.type} and is now a ${got.type}`);
  if (want.type === 'symlink')
    return (await fs.readlink(got.host)) !== want.target
      ? fail('changed', `link ${want.path} points elsewhere`)
      : ok;
  const st = await fs.lstat(got.host);
  if ((st.mode & 0o1777) !== want.mode) return fail('changed', `${want.path} has different permissions`);
  if (region.protection !== 'encrypted')
    return (await hashOf(got)) !== want.sha256 ? fail('changed', `the content of ${want.path} differs`) : ok;
  if ((await hashOf(got)) !== want.cipherSha256)
    return fail('changed', `the encrypted content of ${want.path} differs`);
  if (!opts.keys || !opts.decryptTo) return ok;
  const problem = await decryptEntry(want, got, region, opts.keys, opts.decryptTo);
  return { problem, decrypted: problem === null };
}

/**
 * Recorded entries missing from the root: renamed when a new file of a protected region has the
 * same type and content (it is taken out of `added`), removed otherwise.
 */
async function matchMissing(
  missing: FspfEntry[],
  added: RootEntry[],
  hashOf: (e: RootEntry) => Promise<string>,
  problems: VerifyProblem[],
): Promise<void> {
  for (const m of missing) {
    let to: RootEntry | undefined;
    for (const a of added) {
      const h = await hashOf(a);
      if (a.type === m.type && (h === m.sha256 || h === m.cipherSha256)) {
        to = a;
        break;
      }
    }
    if (to) {
      added.splice(added.indexOf(to), 1);
      problems.push({
        kind: 'renamed',
        file: m.path,
        renamedTo: to.path,
        detail: `${m.path} was renamed to ${to.path}`,
      });
    } else problems.push({ kind: 'removed', file: m.path, detail: `${m.path} was removed` });
  }
}

/** Throw the first problem (all of them, up to 50, in `details.problems`), naming the file. */
function throwFirstProblem(problems: VerifyProblem[]): void {
  if (problems.length === 0) return;
  const p = problems[0]!;
  throw new SealworkError(CODES[p.kind], `Refusing to start: ${p.detail} (file ${p.file}).`, {
    hint:
      p.kind === 'undecryptable'
        ? 'Give the file-system key file written by `sealwork app build` for this image.'
        : 'The image does not match its FSPF: rebuild it with `sealwork app build`, or use the image the fingerprint belongs to.',
    details: { file: p.file, problems: problems.slice(0, 50) },
  });
}

/**
 * Check an unpacked root against its FSPF. With `keys` and `decryptTo`, files of encrypted regions
 * are decrypted into `decryptTo` (same relative paths; a memory-backed folder), checked against
 * their plaintext hash; without keys only their stored form is checked. Throws the first problem
 * (all of them in `details.problems`), naming the file.
 */
export async function verifyRoot(
  root: string,
  fspf: Fspf,
  opts: VerifyRootOptions = {},
): Promise<{ files: number; decrypted: number }> {
  const problems: VerifyProblem[] = [];
  const allowed = new Set(opts.allowedSealworkFiles ?? [FSPF_PATH, ENCLAVE_JSON_PATH]);
  const actual = await scanRoot(root, allowed, problems);
  const hashOf = entryHasher();
  const missing: FspfEntry[] = [];
  let decrypted = 0;
  for (const want of fspf.entries) {
    const got = actual.get(want.path);
    if (!got) {
      missing.push(want);
      continue;
    }
    const r = await checkEntry(want, got, regionOf(want.path, fspf.regions), hashOf, opts);
    if (r.problem) problems.push(r.problem);
    if (r.decrypted) decrypted++;
  }
  const recorded = new Set(fspf.entries.map((x) => x.path));
  const added: RootEntry[] = [];
  for (const [path, e] of actual)
    if (!recorded.has(path) && regionOf(path, fspf.regions).protection !== 'not-protected') added.push(e);
  await matchMissing(missing, added, hashOf, problems);
  for (const a of added)
    problems.push({
      kind: 'added',
      file: a.path,
      detail: `${a.path} was added to the protected region ${regionOf(a.path, fspf.regions).path}`,
    });
  throwFirstProblem(problems);
  return { files: fspf.entries.length, decrypted };
}
