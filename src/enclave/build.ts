/** `app build` and `app measure`: protected images and their identity (MrEnclave | FSPF key | tag). */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { SealworkError, fsError, isSealworkError } from '../errors.js';
import { assertWritableTarget, writeFileAtomic } from '../util/atomic.js';
import { resolveHome } from '../util/home.js';
import { formatFingerprint } from '../protocol/index.js';
import {
  ENCLAVE_JSON_PATH,
  FSPF_PATH,
  SEALWORK_DIR,
  buildFspf,
  newFsKeys,
  normalizeRegions,
  openFspf,
  readFsKeyFile,
  regionOf,
  sealFspf,
  storedFspfTag,
  verifyRoot,
  walkRoot,
  type Fspf,
  type FsKeys,
  type Region,
} from './fspf.js';
import {
  DEFAULT_PATH,
  SCONE_VERSION,
  measuredExecutable,
  readProtectedMeta,
  type EnclaveJson,
} from './image.js';
import { normalizeEgress } from './egress-list.js';
import { computeMrEnclave, type EnclaveConfig } from './mrenclave.js';
import {
  openImage,
  packEntry,
  unpackImage,
  writeLayer,
  writeOciImage,
  type ImageConfigJson,
  type LayerBlob,
} from './oci.js';
import { components, isHex, parseSize, safeEqualHex, splitCommand } from './util.js';

export const DEFAULT_HEAP = 1024 ** 3;
export const DEFAULT_STACK = 8 * 1024 ** 2;
export const DEFAULT_THREADS = 8;

/** The `mrenclave` object an app deploy publishes (iExec's TEE app format). */
export interface MrenclaveJson {
  framework: 'SCONE';
  version: string;
  entrypoint: string;
  heapSize: number;
  fingerprint: string;
}

export interface AppIdentity {
  mrenclave: string;
  fspfKey: string;
  fspfTag: string;
  /** `mrenclave|fspfKey|fspfTag` */
  fingerprint: string;
  mrenclaveJson: MrenclaveJson;
  /** Always true: SGX is simulated; no confidentiality against the host. */
  simulated: true;
  /** The executable that was measured (the entrypoint's binary or its script's interpreter). */
  measured: string;
  /** Enclave configuration measured with it. */
  config: EnclaveConfig;
}

export interface BuildAppParameters {
  /** Source image: OCI layout folder, or OCI / `docker save` tar archive. */
  image: string;
  /** Protected image to write: a folder (OCI layout), or an archive when it ends in `.tar`. */
  out: string;
  /** Entrypoint command (a string, split like a shell without expansion, or argv). */
  entrypoint: string | string[];
  /** Enclave heap: bytes or a size (`1G`); default 1G. The run-time memory limit is heap + threads × stack. */
  heap?: string | number;
  /** Per-thread stack (default 8M). */
  stack?: string | number;
  /** Enclave threads (default 8). */
  threads?: number;
  debug?: boolean;
  /**
   * Network shield: the `host:port` destinations the app may reach over TLS (default none: no
   * network). Measured: part of MrEnclave and of the sealed FSPF.
   */
  egress?: string[];
  /** `/path:protection` or {path, protection}; default `/:authenticated`. */
  regions?: (string | Region)[];
  force?: boolean;
  /** Where to write the file-system key file (only with encrypted regions; default $SEALWORK_HOME/keys/apps/<out>.fskey.json). */
  fsKeyFile?: string;
  home?: string;
  /** Reproducible builds: use this FSPF key (hex) instead of a random one. */
  fspfKey?: string;
  /** Reproducible builds: the region keys (hex) to use. */
  fsKeys?: Record<string, string>;
  /** Scratch folder (default the OS temp folder). */
  workDir?: string;
}

export interface BuildAppReturnType extends AppIdentity {
  out: string;
  /** Digest of the protected image's OCI manifest (`sha256:…`). */
  imageDigest: string;
  /** The same as `0x…` bytes32, for the app's on-chain checksum. */
  checksum: `0x${string}`;
  /** Written only when a region is encrypted. Never put it in the image; push it to the SMS. */
  fsKeyFile?: string;
  regions: Region[];
  /** Files recorded in the FSPF, and how many of them are stored encrypted. */
  files: number;
  encryptedFiles: number;
}

function identity(
  mrenclave: string,
  fspfKey: string,
  fspfTag: string,
  cfg: EnclaveConfig,
  measured: string,
): AppIdentity {
  const fingerprint = formatFingerprint({ mrenclave, fspfKey, fspfTag });
  return {
    mrenclave,
    fspfKey,
    fspfTag,
    fingerprint,
    mrenclaveJson: {
      framework: 'SCONE',
      version: SCONE_VERSION,
      entrypoint: cfg.entrypoint.join(' '),
      heapSize: cfg.heapSize,
      fingerprint,
    },
    simulated: true,
    measured,
    config: cfg,
  };
}

async function stageDir(workDir: string | undefined, prefix: string): Promise<string> {
  const base = workDir ?? tmpdir();
  await fs.mkdir(base, { recursive: true });
  return fs.mkdtemp(join(base, prefix));
}

/** Unpack an image into `<stage>/root`. */
async function unpackTo(image: string, stage: string): Promise<{ root: string; config: ImageConfigJson }> {
  const root = join(stage, 'root');
  await fs.mkdir(root, { mode: 0o755 });
  const img = await openImage(resolve(image), { workDir: stage });
  try {
    await unpackImage(img, root);
  } finally {
    await img.cleanup();
  }
  return { root, config: img.config };
}

/** What a build needs before anything is unpacked: its options checked and its targets writable. */
interface BuildPlan {
  out: string;
  force: boolean;
  argv: string[];
  cfg: EnclaveConfig;
  regions: Region[];
  /** Only when a region is encrypted. */
  fsKeyFile?: string;
}

/** Check the build options and that the outputs may be written, before any work. */
async function planBuild(p: BuildAppParameters): Promise<BuildPlan> {
  const out = resolve(p.out);
  const force = p.force ?? false;
  const argv = Array.isArray(p.entrypoint) ? [...p.entrypoint] : splitCommand(p.entrypoint);
  if (argv.length === 0)
    throw new SealworkError('ENTRYPOINT_REQUIRED', 'No entrypoint given.', {
      hint: 'Pass --entrypoint "<command>".',
    });
  const cfg: EnclaveConfig = {
    entrypoint: argv,
    heapSize: parseSize(p.heap ?? DEFAULT_HEAP, 'heap size'),
    stackSize: parseSize(p.stack ?? DEFAULT_STACK, 'stack size'),
    threads: p.threads ?? DEFAULT_THREADS,
    debug: p.debug ?? false,
  };
  const egress = normalizeEgress(p.egress);
  if (egress.length > 0) cfg.egress = egress;
  const regions = normalizeRegions(p.regions);
  const hasEncrypted = regions.some((r) => r.protection === 'encrypted');
  if (p.fspfKey !== undefined && !isHex(p.fspfKey, 32))
    throw new SealworkError('FSPF_KEY_INVALID', 'The FSPF key must be 64 hex characters.', {
      hint: 'Omit it to use a random key.',
    });
  const fsKeyFile = hasEncrypted
    ? resolve(p.fsKeyFile ?? join(resolveHome(p.home), 'keys', 'apps', `${basename(out)}.fskey.json`))
    : undefined;
  if (resolve(p.image) === out)
    throw new SealworkError('OUTPUT_IS_INPUT', 'The output image is the input image.', {
      hint: 'Choose another --out.',
    });
  await assertWritableTarget(out, force);
  if (fsKeyFile) await assertWritableTarget(fsKeyFile, force);
  return { out, force, argv, cfg, regions, ...(fsKeyFile ? { fsKeyFile } : {}) };
}

/** Refuse a source that is already protected, and regions reached through a symbolic link. */
async function checkSourceRoot(root: string, image: string, regions: Region[]): Promise<void> {
  if (await fs.lstat(join(root, ...components(SEALWORK_DIR))).catch(() => null))
    throw new SealworkError(
      'IMAGE_ALREADY_PROTECTED',
      `${image} is already a protected image (it has ${SEALWORK_DIR}).`,
      {
        hint: 'Build from the original (unprotected) image.',
        details: { image },
      },
    );
  for (const r of regions) {
    let host = root;
    for (const part of components(r.path)) {
      host = join(host, part);
      if ((await fs.lstat(host).catch(() => null))?.isSymbolicLink())
        throw new SealworkError(
          'REGION_INVALID',
          `Region ${r.path} goes through a symbolic link in the image.`,
          {
            hint: 'Name the real folder the link points to.',
            details: { region: r.path },
          },
        );
    }
  }
}

/** The source's environment, working folder and measured executable, and its MrEnclave. */
interface SourceMeasure {
  env: string[];
  workingDir: string;
  /** Image path of the measured executable. */
  measured: string;
  mrenclave: string;
}

/** Resolve the entrypoint to the executable SGX measures (never in an encrypted region) and compute MrEnclave. */
async function measureSource(root: string, imgCfg: ImageConfigJson, plan: BuildPlan): Promise<SourceMeasure> {
  const env = imgCfg.config?.Env ?? [`PATH=${DEFAULT_PATH}`];
  const workingDir = imgCfg.config?.WorkingDir || '/';
  const measured = await measuredExecutable(root, plan.argv, env, workingDir, (ip) =>
    fs.readFile(join(root, ...components(ip))),
  );
  const region = regionOf(measured.path, plan.regions);
  if (region.protection === 'encrypted')
    throw new SealworkError(
      'MEASURED_EXECUTABLE_ENCRYPTED',
      `The measured program ${measured.path} lies in the encrypted region ${region.path}.`,
      {
        hint: 'MrEnclave is computed before any key is released, so the binary itself cannot be encrypted: keep it in an authenticated region (scripts run by it may stay encrypted).',
        details: { file: measured.path, chain: measured.chain },
      },
    );
  return {
    env,
    workingDir,
    measured: measured.path,
    mrenclave: computeMrEnclave(measured.content, plan.cfg),
  };
}

/** The layer sealwork adds, and what it recorded. */
interface SealedLayer {
  layer: LayerBlob;
  fspf: Fspf;
  /** Image paths of the files stored encrypted (in this layer, not in the flattened one). */
  encrypted: Set<string>;
  tag: Buffer;
}

/** Layer 2: encrypted files at their own paths, then the sealed FSPF and the enclave metadata. */
async function writeSealedLayer(
  stage: string,
  root: string,
  plan: BuildPlan,
  src: SourceMeasure,
  fspfKey: Buffer,
  keys: FsKeys,
): Promise<SealedLayer> {
  const { cfg, regions } = plan;
  let fspf!: Fspf;
  let encrypted!: Set<string>;
  let tag!: Buffer;
  const layer = await writeLayer(join(stage, 'layer2.tar'), async (pack) => {
    const enclave = { ...cfg, mrenclave: src.mrenclave, measured: src.measured };
    const meta = { env: src.env, workingDir: src.workingDir, enclave };
    const r = await buildFspf(root, regions, meta, keys, (path, stored, mode) =>
      packEntry(pack, { name: path.slice(1), type: 'file', mode }, { data: stored }),
    );
    fspf = r.fspf;
    encrypted = r.encrypted;
    const sealed = sealFspf(fspf, fspfKey);
    tag = sealed.tag;
    const enclaveJson: EnclaveJson = {
      format: 'sealwork-enclave',
      version: 1,
      simulated: true,
      framework: 'SCONE',
      sconeVersion: SCONE_VERSION,
      ...cfg,
      fspfKey: fspfKey.toString('hex'),
      measured: src.measured,
    };
    await packEntry(pack, { name: `${SEALWORK_DIR.slice(1)}/`, type: 'directory', mode: 0o755 });
    await packEntry(pack, { name: FSPF_PATH.slice(1), type: 'file', mode: 0o444 }, { data: sealed.blob });
    await packEntry(
      pack,
      { name: ENCLAVE_JSON_PATH.slice(1), type: 'file', mode: 0o444 },
      { data: Buffer.from(`${JSON.stringify(enclaveJson, null, 2)}\n`) },
    );
  });
  return { layer, fspf, encrypted, tag };
}

/** Layer 1: the flattened source image without the plaintext of encrypted files. */
function writeFlattenedLayer(stage: string, root: string, encrypted: Set<string>): Promise<LayerBlob> {
  return writeLayer(join(stage, 'layer1.tar'), async (pack) => {
    for (const e of await walkRoot(root)) {
      const name = e.path.slice(1);
      const st = await fs.lstat(e.host);
      if (e.type === 'dir')
        await packEntry(pack, { name: `${name}/`, type: 'directory', mode: st.mode & 0o1777 });
      else if (e.type === 'symlink')
        await packEntry(pack, { name, type: 'symlink', linkname: await fs.readlink(e.host), mode: 0o777 });
      else if (e.type === 'file' && !encrypted.has(e.path))
        await packEntry(pack, { name, type: 'file', mode: st.mode & 0o1777 }, { file: e.host });
    }
  });
}

/** The protected image's config: the source's, with the entrypoint, the identity labels and the new history. */
function protectedConfig(
  imgCfg: ImageConfigJson,
  image: string,
  src: SourceMeasure,
  argv: string[],
  id: AppIdentity,
): ImageConfigJson {
  return {
    ...imgCfg,
    config: {
      ...(imgCfg.config ?? {}),
      Env: src.env,
      WorkingDir: src.workingDir,
      Entrypoint: argv,
      Cmd: null,
      Labels: {
        ...(imgCfg.config?.Labels ?? {}),
        'io.sealwork.mrenclave': id.mrenclave,
        'io.sealwork.fingerprint': id.fingerprint,
        'io.sealwork.simulated': 'true',
      },
    },
    history: [
      { created_by: `sealwork: flattened ${basename(image)} (plaintext of encrypted regions removed)` },
      { created_by: 'sealwork app build: FSPF, enclave metadata, encrypted files' },
    ],
  };
}

/**
 * Write the protected image to `out`: an archive directly, a layout folder through a hidden
 * partial folder renamed at the end (nothing partial is left behind on failure).
 */
async function writeProtectedImage(
  plan: BuildPlan,
  stage: string,
  config: ImageConfigJson,
  layers: LayerBlob[],
  fingerprint: string,
): Promise<string> {
  const { out, force } = plan;
  const tmpOut = out.endsWith('.tar')
    ? out
    : join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    const { manifestDigest } = await writeOciImage({
      out: tmpOut,
      config,
      layers,
      workDir: stage,
      annotations: { 'io.sealwork.fingerprint': fingerprint },
    });
    if (tmpOut !== out) {
      if (force) await fs.rm(out, { recursive: true, force: true });
      await fs.rename(tmpOut, out);
    }
    return manifestDigest;
  } catch (e) {
    if (tmpOut !== out) await fs.rm(tmpOut, { recursive: true, force: true });
    throw e instanceof SealworkError ? e : fsError(e, out, 'write image');
  }
}

/**
 * Build a protected image from `image`: check the options, unpack the source, measure its
 * executable, write the sealed layer (FSPF, enclave metadata, encrypted files) and the flattened
 * one, then the image and (with encrypted regions) the file-system key file.
 */
export async function buildApp(p: BuildAppParameters): Promise<BuildAppReturnType> {
  const plan = await planBuild(p);
  const stage = await stageDir(p.workDir, 'sealwork-build-');
  try {
    const { root, config: imgCfg } = await unpackTo(p.image, stage);
    await checkSourceRoot(root, p.image, plan.regions);
    const src = await measureSource(root, imgCfg, plan);
    const fspfKey = Buffer.from(p.fspfKey ?? randomBytes(32).toString('hex'), 'hex');
    const keys: FsKeys = newFsKeys(plan.regions, p.fsKeys);
    const sealed = await writeSealedLayer(stage, root, plan, src, fspfKey, keys);
    const layer1 = await writeFlattenedLayer(stage, root, sealed.encrypted);
    const id = identity(
      src.mrenclave,
      fspfKey.toString('hex'),
      sealed.tag.toString('hex'),
      plan.cfg,
      src.measured,
    );
    const config = protectedConfig(imgCfg, p.image, src, plan.argv, id);
    const manifestDigest = await writeProtectedImage(
      plan,
      stage,
      config,
      [layer1, sealed.layer],
      id.fingerprint,
    );
    const { fsKeyFile } = plan;
    if (fsKeyFile)
      await writeFileAtomic(fsKeyFile, `${JSON.stringify(keys, null, 2)}\n`, {
        mode: 0o600,
        force: plan.force,
      });
    return {
      ...id,
      out: plan.out,
      imageDigest: manifestDigest,
      checksum: `0x${manifestDigest.slice('sha256:'.length)}`,
      ...(fsKeyFile ? { fsKeyFile } : {}),
      regions: plan.regions,
      files: sealed.fspf.entries.length,
      encryptedFiles: sealed.encrypted.size,
    };
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------ loading

export interface LoadedImage {
  stage: string;
  root: string;
  meta: EnclaveJson;
  fspf: Fspf;
  identity: AppIdentity;
  cleanup(): Promise<void>;
}

/**
 * Unpack a protected image, authenticate its FSPF (given key and tag, or the stored ones for
 * `measure`), verify every protected file and compute MrEnclave. With `fsKeys` and `decryptTo`,
 * files of encrypted regions are decrypted into `decryptTo`.
 */
export async function loadProtectedImage(p: {
  image: string;
  fspfKey?: string;
  fspfTag?: string;
  fsKeys?: FsKeys;
  decryptTo?: string;
  workDir?: string;
  /** An already unpacked tree (the verified image cache): verified again, never removed here. */
  unpacked?: { stage: string; root: string };
}): Promise<LoadedImage> {
  const stage = p.unpacked?.stage ?? (await stageDir(p.workDir, 'sealwork-run-'));
  const cleanup = p.unpacked ? async () => {} : () => fs.rm(stage, { recursive: true, force: true });
  try {
    const root = p.unpacked?.root ?? (await unpackTo(p.image, stage)).root;
    const { meta, fspfBlob } = await readProtectedMeta(root);
    const key = p.fspfKey ?? meta.fspfKey;
    const tag = p.fspfTag ?? storedFspfTag(fspfBlob).toString('hex');
    if (!isHex(key, 32) || !isHex(tag, 16))
      throw new SealworkError('FSPF_KEY_INVALID', 'The FSPF key must be 64 and the tag 32 hex characters.', {
        hint: 'Copy them from the fingerprint printed by `sealwork app build`.',
      });
    const fspf = openFspf(fspfBlob, Buffer.from(key, 'hex'), Buffer.from(tag, 'hex'));
    const needsKeys = fspf.regions.some((r) => r.protection === 'encrypted');
    if (needsKeys && p.decryptTo && !p.fsKeys) {
      await verifyRoot(root, fspf); // integrity first: a tampered image is reported as such
      throw new SealworkError(
        'FS_KEY_REQUIRED',
        'The image has encrypted regions and no file-system key was given.',
        {
          hint: 'Pass --fs-key-file <file written by app build> (in production the SMS releases it after attestation).',
        },
      );
    }
    await verifyRoot(root, fspf, { keys: p.fsKeys, decryptTo: p.decryptTo });
    const cfg: EnclaveConfig = {
      entrypoint: meta.entrypoint,
      heapSize: meta.heapSize,
      stackSize: meta.stackSize,
      threads: meta.threads,
      debug: meta.debug,
      ...(meta.egress?.length ? { egress: meta.egress } : {}),
    };
    const read = async (ip: string) => {
      if (regionOf(ip, fspf.regions).protection === 'encrypted') {
        if (!p.decryptTo)
          throw new SealworkError(
            'FS_KEY_REQUIRED',
            `The measured program ${ip} lies in an encrypted region.`,
            {
              hint: 'Give the file-system key file to measure this image.',
              details: { file: ip },
            },
          );
        return fs.readFile(join(p.decryptTo, ...components(ip)));
      }
      return fs.readFile(join(root, ...components(ip)));
    };
    let measured: { path: string; content: Buffer };
    try {
      measured = await measuredExecutable(root, meta.entrypoint, fspf.env, fspf.workingDir, read);
    } catch (e) {
      if (p.decryptTo || !isSealworkError(e, 'FS_KEY_REQUIRED')) throw e;
      // The entrypoint is a script in an encrypted region: before the key is released, measure the
      // interpreter recorded in the authenticated FSPF at build time (what SGX measures; the
      // script is covered by the tag). At run time, with the key, the chain is resolved again.
      measured = { path: fspf.enclave.measured, content: await read(fspf.enclave.measured) };
    }
    const mrenclave = computeMrEnclave(measured.content, cfg);
    if (p.fspfKey !== undefined) checkSealedIdentity(fspf, cfg, mrenclave, measured.path);
    return { stage, root, meta, fspf, identity: identity(mrenclave, key, tag, cfg, measured.path), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * With a given key and tag, the FSPF's sealed identity is authoritative: the configuration in the
 * public enclave.json and the executable actually measured must be the ones sealed at build time.
 */
function checkSealedIdentity(fspf: Fspf, cfg: EnclaveConfig, mrenclave: string, measured: string): void {
  const sealed = fspf.enclave;
  const configKeys = ['entrypoint', 'heapSize', 'stackSize', 'threads', 'debug', 'egress'] as const;
  const changed = configKeys.filter((k) => JSON.stringify(cfg[k]) !== JSON.stringify(sealed[k]));
  if (changed.length > 0)
    throw new SealworkError(
      'ENCLAVE_CONFIG_CHANGED',
      `Refusing to start: ${ENCLAVE_JSON_PATH} differs from the configuration sealed in the FSPF (${changed.join(', ')}).`,
      {
        hint: 'The enclave metadata was edited; use the image the fingerprint belongs to, or rebuild it.',
        details: { file: ENCLAVE_JSON_PATH, changed },
      },
    );
  if (measured !== sealed.measured || !safeEqualHex(mrenclave, sealed.mrenclave))
    throw new SealworkError(
      'MRENCLAVE_MISMATCH',
      `Refusing to start: the measured program ${measured} gives MrEnclave ${mrenclave}, not the ${sealed.mrenclave} sealed in the FSPF (program ${sealed.measured}).`,
      {
        hint: 'The executable (or what the entrypoint resolves to) changed; keep it in an authenticated region, or use the image the fingerprint belongs to.',
        details: {
          file: measured,
          expected: sealed.mrenclave,
          measured: mrenclave,
          sealedProgram: sealed.measured,
        },
      },
    );
}

export interface MeasureAppReturnType extends AppIdentity {
  image: string;
  /** Files of the FSPF checked against the image. */
  files: number;
}

/** Recompute the identity of a protected image (MrEnclave from its executable and configuration; key and tag from the FSPF, which is authenticated and checked against every file). */
export async function measureApp(
  image: string,
  opts: { fsKeyFile?: string; workDir?: string } = {},
): Promise<MeasureAppReturnType> {
  const fsKeys = opts.fsKeyFile ? await readFsKeyFile(opts.fsKeyFile) : undefined;
  let shm: string | undefined;
  if (fsKeys) shm = await fs.mkdtemp(join(await shmBase(), 'sealwork-measure-'));
  try {
    const img = await loadProtectedImage({ image, fsKeys, decryptTo: shm, workDir: opts.workDir });
    await img.cleanup();
    return { ...img.identity, image: resolve(image), files: img.fspf.entries.length };
  } finally {
    if (shm) await fs.rm(shm, { recursive: true, force: true });
  }
}

/** A memory-backed folder for plaintext (/dev/shm); refuses when there is none. */
export async function shmBase(): Promise<string> {
  const base = process.env.SEALWORK_SHM_DIR ?? '/dev/shm';
  const st = await fs.stat(base).catch(() => null);
  if (!st?.isDirectory())
    throw new SealworkError(
      'SHM_UNAVAILABLE',
      `${base} does not exist; plaintext of encrypted files must stay in memory.`,
      {
        hint: 'Mount a tmpfs on /dev/shm (or set SEALWORK_SHM_DIR to a tmpfs folder).',
      },
    );
  return base;
}
