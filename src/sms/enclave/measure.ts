/**
 * Measuring the SMS (the simulation of ECREATE/EADD/EEXTEND for it): MRENCLAVE is the sha256 of
 * the canonical manifest of exactly what the enclave runs:
 *  - its code: one esbuild bundle of src/sms/enclave/main.ts (every sealwork module and pure-JS
 *    dependency it imports, bundled from this checkout's sources, so `tsx` and `dist/` give the
 *    same value), plus the few packages it loads from node_modules at run time (the native addons
 *    better-sqlite3 and secp256k1 and their loaders), every file of each;
 *  - its runtime: the node binary and the shared libraries it loads (ldd);
 *  - its configuration: chain id, hub, database kind, attestation policy, sealing policy, recovery
 *    key, TLS mode — what changes its behaviour, never a secret.
 * Deterministic: the same checkout, `npm ci` result, node binary and configuration give the same
 * value. The launcher mounts exactly these files (read-only) in the sandbox, see launcher.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SealworkError } from '../../errors.js';
import {
  canonicalJson,
  SMS_ISV_PRODID,
  SMS_ISV_SVN,
  type MeasuredFile,
  type MeasuredPackage,
  type SmsEnclaveConfig,
  type SmsManifest,
  type SmsMeasurement,
} from './identity.js';
import { loadOrCreateSigner, signIdentity } from './signer.js';

/** Packages the bundle loads from node_modules at run time (not bundled: native code). */
export const RUNTIME_PACKAGES = [
  'better-sqlite3',
  'bindings',
  'file-uri-to-path',
  'secp256k1',
  'node-gyp-build',
] as const;
/** Modules left out of the bundle: the runtime packages, and pg's optional native binding (absent). */
const EXTERNAL = ['better-sqlite3', 'secp256k1', 'secp256k1/*', 'pg-native'];
export const BUNDLE_NAME = 'sms.mjs';
const ENTRY = 'src/sms/enclave/main.ts';
const MRENCLAVE_LABEL = 'sealwork-sms-mrenclave-v1\n';

/** The checkout this code runs from (the folder of sealwork's package.json). */
export function checkoutRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sealwork')
      return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new SealworkError('SMS_MEASURE_FAILED', 'The sealwork checkout cannot be found from its code.', {
        hint: 'Run sealwork from its checkout (npm install there).',
      });
    dir = up;
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** The SMS bundle (esbuild, ESM for node 20, no source maps, paths relative to the checkout). Built afresh each time: never a stale copy. */
export async function bundleSms(root = checkoutRoot()): Promise<Buffer> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new SealworkError('SMS_MEASURE_FAILED', 'esbuild is not installed; the SMS bundle needs it.', {
      hint: 'Run npm ci in the sealwork checkout.',
      cause: e,
    });
  }
  const r = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    external: EXTERNAL,
    legalComments: 'none',
    // Paths in the bundle stay relative to the checkout, wherever node_modules really lives.
    preserveSymlinks: true,
    logLevel: 'silent',
    // CommonJS dependencies call require() on node built-ins: give the ESM bundle one.
    banner: {
      js: "import { createRequire as __smsCreateRequire } from 'node:module'; const require = __smsCreateRequire(import.meta.url);",
    },
  });
  return Buffer.from(r.outputFiles[0]!.contents);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of (await fs.readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export interface PackageImage extends MeasuredPackage {
  /** Host folder of the package (mounted read-only at node_modules/<name>). */
  dir: string;
}

async function measurePackage(root: string, name: string): Promise<PackageImage> {
  const dir = join(root, 'node_modules', name);
  let version: string;
  try {
    version = (JSON.parse(await fs.readFile(join(dir, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch (e) {
    throw new SealworkError('SMS_MEASURE_FAILED', `The package ${name} the SMS loads is not installed.`, {
      hint: 'Run npm ci in the sealwork checkout.',
      cause: e,
    });
  }
  const lines: string[] = [];
  const files = await listFiles(dir);
  for (const f of files)
    lines.push(`${relative(dir, f).split(sep).join('/')}\0${(await hashFile(f)).sha256}\n`);
  return { name, version, files: files.length, sha256: sha256(Buffer.from(lines.join(''))), dir };
}

/** The shared libraries a binary loads, by the paths the dynamic loader resolves (ldd). */
function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch {
    return []; // static binary
  }
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

export interface RuntimeImage {
  node: SmsManifest['runtime']['node'];
  libraries: MeasuredFile[];
}

let runtimeImage: Promise<RuntimeImage> | undefined;

/** The node binary running this process and its libraries. */
export function measureRuntime(): Promise<RuntimeImage> {
  runtimeImage ??= (async () => {
    const path = realpathSync(process.execPath);
    const node = { path, version: process.version, ...(await hashFile(path)) };
    const libraries: MeasuredFile[] = [];
    for (const lib of sharedLibraries(path)) libraries.push({ path: lib, ...(await hashFile(lib)) });
    return { node, libraries };
  })();
  return runtimeImage;
}

/** Everything the launcher mounts, with the measurement computed over it. */
export interface SmsImage {
  measurement: SmsMeasurement;
  bundle: Buffer;
  packages: PackageImage[];
  runtime: RuntimeImage;
}

export interface MeasureSmsOptions {
  home: string;
  config: SmsEnclaveConfig;
  /** The signer's Ed25519 private key (PEM file); default: the dev key under the home, generated once. */
  signingKey?: string;
  isvProdId?: number;
  isvSvn?: number;
  /** The checkout to measure (default: the one this code runs from). */
  root?: string;
}

/** MRENCLAVE of a manifest. */
export function mrEnclaveOf(manifest: SmsManifest): string {
  return sha256(Buffer.from(MRENCLAVE_LABEL + canonicalJson(manifest), 'utf8'));
}

function checkVersionNumber(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new SealworkError('SMS_IDENTITY_INVALID', `${what} must be an integer 0..65535.`, {
      hint: `Give ${what === 'ISVSVN' ? '--isv-svn' : '--isv-prod-id'} as an integer 0..65535.`,
      details: { what, value: v },
    });
  return v;
}

/** Measure the SMS and sign its identity (see the file comment). */
export async function buildSmsImage(o: MeasureSmsOptions): Promise<SmsImage> {
  const root = o.root ?? checkoutRoot();
  const isvProdId = checkVersionNumber(o.isvProdId ?? SMS_ISV_PRODID, 'ISVPRODID');
  const isvSvn = checkVersionNumber(o.isvSvn ?? SMS_ISV_SVN, 'ISVSVN');
  const [bundle, runtime, packages, signer] = await Promise.all([
    bundleSms(root),
    measureRuntime(),
    Promise.all(RUNTIME_PACKAGES.map((p) => measurePackage(root, p))),
    loadOrCreateSigner(o.home, o.signingKey),
  ]);
  const manifest: SmsManifest = {
    format: 1,
    code: {
      bundle: { path: BUNDLE_NAME, sha256: sha256(bundle), size: bundle.length },
      packages: packages.map(({ name, version, files, sha256: h }) => ({ name, version, files, sha256: h })),
    },
    runtime,
    config: o.config,
  };
  const mrEnclave = mrEnclaveOf(manifest);
  const sigStruct = signIdentity(signer, { mrEnclave, isvProdId, isvSvn });
  const measurement: SmsMeasurement = {
    mrEnclave,
    mrSigner: signer.mrSigner,
    isvProdId,
    isvSvn,
    simulated: true,
    manifest,
    sigStruct,
  };
  return { measurement, bundle, packages, runtime };
}

/** The SMS's measurement (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN and the manifest). */
export async function measureSms(o: MeasureSmsOptions): Promise<SmsMeasurement> {
  return (await buildSmsImage(o)).measurement;
}
