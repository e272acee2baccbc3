/**
 * The developer loop: `app init` (a folder from a template), `image base` (sealwork's Debian base
 * images), `app build <dir>` (Dockerfile → protected image) and `app test` (the app in the
 * simulated enclave with mock inputs and no chain).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checksumBuffer, encryptDatasetBuffer, generateDatasetKey } from '../../crypto/dataset.js';
import { SealworkError, isSealworkError } from '../../errors.js';
import {
  buildApp as buildAppImage,
  iexecEnv,
  runEnclave,
  type BuildAppReturnType,
  type RunEnclaveReturnType,
} from '../../enclave/index.js';
import {
  BASE_NAMES,
  buildBaseImage,
  isBaseName,
  type BaseBuilder,
  type BuildBaseImageReturnType,
} from '../../enclave/base-image.js';
import { buildDockerfile } from '../../enclave/dockerfile.js';
import { pushImage } from '../../enclave/registry.js';
import { PROJECT_FILE, initProject, loadProject, type Project } from '../../enclave/project.js';
import { resolveHome } from '../../util/home.js';
import { allowFetchHostsFromEnv, fetchGuard, shieldAddressRule } from '../../worker/egress.js';
import { computeResultDigest, readComputedJson, type ComputedJson } from '../../worker/postcompute.js';
import { fetchDataset, fetchInputFiles } from '../../worker/precompute.js';
import type { ChainParameters } from '../chain/common.js';
import { publishOrderFile, signOrderToFile } from '../chain/orders.js';
import { parseRunTimeout } from './index.js';

export { TEMPLATES, type TemplateName } from '../../enclave/project.js';
export { BASE_NAMES, type BaseName, type BaseBuilder } from '../../enclave/base-image.js';

/** `sealwork app init`: a new app folder from a template. */
export function initApp(p: { dir: string; template: string; name?: string }) {
  return initProject(p);
}

/** Is `path` an app folder (it holds sealwork.json)? Else `app build` reads it as an image. */
export async function isAppFolder(path: string): Promise<boolean> {
  const st = await fs.stat(join(path, PROJECT_FILE)).catch(() => null);
  return st?.isFile() ?? false;
}

/** Where base image `name` lives: `$SEALWORK_HOME/images/base/<name>` (an OCI layout). */
export function baseImagePath(home: string | undefined, name: string): string {
  return join(resolveHome(home), 'images', 'base', name);
}

function builderOf(b?: string): BaseBuilder | 'auto' {
  const v = b ?? process.env.SEALWORK_BASE_BUILDER ?? 'auto';
  if (v !== 'auto' && v !== 'host' && v !== 'mmdebstrap')
    throw new SealworkError('BASE_IMAGE_BUILD_FAILED', `Unknown base image builder "${v}".`, {
      hint: 'Use --builder auto, mmdebstrap or host (or SEALWORK_BASE_BUILDER).',
    });
  return v;
}

/** `sealwork image base <name>`: build (or rebuild) a base image into the home. */
export async function buildBase(p: {
  name: string;
  home?: string;
  builder?: string;
  out?: string;
}): Promise<BuildBaseImageReturnType & { ms: number }> {
  if (!isBaseName(p.name))
    throw new SealworkError('BASE_IMAGE_UNKNOWN', `There is no base image "${p.name}".`, {
      hint: `Use one of ${BASE_NAMES.join(', ')}.`,
    });
  const t0 = performance.now();
  const out = resolve(p.out ?? baseImagePath(p.home, p.name));
  const r = await buildBaseImage({ name: p.name, out, builder: builderOf(p.builder), workDir: tmpdir() });
  return { ...r, ms: Math.round(performance.now() - t0) };
}

async function ensureBase(
  home: string | undefined,
  name: string,
  builder?: string,
): Promise<{ path: string; built: boolean }> {
  const path = baseImagePath(home, name);
  if (await fs.stat(join(path, 'index.json')).catch(() => null)) return { path, built: false };
  await buildBase({ name, home, builder });
  return { path, built: true };
}

export interface BuildProjectParameters {
  dir: string;
  home?: string;
  /** Base image builder when a base must be built first (default SEALWORK_BASE_BUILDER or auto). */
  builder?: string;
  /** Protected image to write (default `<dir>/build/app`). */
  out?: string;
  workDir?: string;
}

/** sealwork.json as returned and printed: the mock secrets' names, never their values. */
function withoutSecrets(project: Project): Project {
  const { appSecret, requesterSecrets, ...test } = project.test;
  return {
    ...project,
    test: {
      ...test,
      ...(appSecret !== undefined ? { appSecret: '(hidden)' } : {}),
      requesterSecrets: Object.fromEntries(Object.keys(requesterSecrets).map((k) => [k, '(hidden)'])),
    },
  };
}

export interface BuildProjectReturnType extends BuildAppReturnType {
  dir: string;
  project: Project;
  base: string;
  /** True when the base image was missing and built first. */
  baseBuilt: boolean;
  mrenclaveFile: string;
  ms: number;
}

/** `sealwork app build <dir>`: the Dockerfile on its sealwork base image, then the protected image. */
export async function buildProject(p: BuildProjectParameters): Promise<BuildProjectReturnType> {
  const t0 = performance.now();
  const dir = resolve(p.dir);
  const project = await loadProject(dir);
  const dockerfile = await fs.readFile(join(dir, project.dockerfile), 'utf8').catch((e: Error) => {
    throw new SealworkError('DOCKERFILE_INVALID', `Cannot read ${join(dir, project.dockerfile)}.`, {
      hint: 'Name the Dockerfile in sealwork.json ("dockerfile").',
      cause: e,
    });
  });
  const stage = await fs.mkdtemp(join(p.workDir ?? tmpdir(), 'sealwork-project-'));
  try {
    let baseBuilt = false;
    const plain = await buildDockerfile({
      context: dir,
      dockerfile,
      out: join(stage, 'plain'),
      workDir: stage,
      resolveBase: async (name) => {
        const b = await ensureBase(p.home, name, p.builder);
        baseBuilt = b.built;
        return b.path;
      },
    });
    const c = plain.config.config ?? {};
    const entrypoint = project.enclave.entrypoint ?? [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
    const out = resolve(p.out ?? join(dir, 'build', 'app'));
    await fs.mkdir(join(out, '..'), { recursive: true });
    const built = await buildAppImage({
      image: plain.out,
      out,
      entrypoint,
      heap: project.enclave.heap,
      stack: project.enclave.stack,
      threads: project.enclave.threads,
      ...(project.enclave.regions ? { regions: project.enclave.regions } : {}),
      ...(project.enclave.egress ? { egress: project.enclave.egress } : {}),
      fsKeyFile: join(resolveHome(p.home), 'keys', 'apps', `${project.name}.fskey.json`),
      force: true,
      home: p.home,
      workDir: stage,
    });
    const mrenclaveFile = join(out, '..', 'mrenclave.json');
    await fs.writeFile(mrenclaveFile, `${JSON.stringify(built.mrenclaveJson)}\n`);
    return {
      ...built,
      dir,
      project: withoutSecrets(project),
      base: plain.base,
      baseBuilt,
      mrenclaveFile,
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

export interface TestAppReturnType {
  dir: string;
  build: BuildProjectReturnType;
  run: RunEnclaveReturnType;
  outDir: string;
  /** The mock task's inputs (names only; secrets are never returned). */
  inputs: {
    dataset?: string;
    datasetChecksum?: `0x${string}`;
    inputFiles: string[];
    args?: string;
    secrets: string[];
  };
  computed?: ComputedJson;
  /** iExec's result digest of the output (what the worker would publish). */
  resultDigest?: `0x${string}`;
  /** The deterministic output file's text, when it is a small file. */
  result?: string;
  /** Why the test failed (the app's exit, a timeout, or computed.json); undefined when it passed. */
  failure?: { code: string; message: string; hint?: string };
}

/**
 * `sealwork app test [dir]`: build, then run the app as a worker would with no chain: the sample
 * dataset encrypted with a fresh key and brought back through the worker's pre-compute (checksum,
 * decryption in memory), the sample input files, args and mock secrets from sealwork.json; then
 * computed.json and the result digest as post-compute reads them.
 */
export async function testApp(p: BuildProjectParameters): Promise<TestAppReturnType> {
  const dir = resolve(p.dir);
  const t = (await loadProject(dir)).test;
  const build = await buildProject(p);
  const scratch = await fs.mkdtemp(join(p.workDir ?? tmpdir(), 'sealwork-apptest-'));
  try {
    let dataset: { path: string; data: Buffer } | undefined;
    let datasetChecksum: `0x${string}` | undefined;
    if (t.dataset) {
      const plain = await fs.readFile(resolve(dir, t.dataset));
      const key = generateDatasetKey();
      const enc = encryptDatasetBuffer(plain, key);
      const encPath = join(scratch, `${basename(t.dataset)}.enc`);
      await fs.writeFile(encPath, enc, { mode: 0o600 });
      datasetChecksum = checksumBuffer(enc);
      dataset = await fetchDataset(
        { address: basename(t.dataset), url: pathToFileURL(encPath).href, checksum: datasetChecksum, key },
        { fileRoot: scratch },
      );
      dataset = { path: `/iexec_in/${basename(t.dataset)}`, data: dataset.data };
    }
    const inputs = await fetchInputFiles(
      t.inputFiles.map((f) => pathToFileURL(resolve(dir, f)).href),
      { fileRoot: dir },
    );
    const name = (f: { path: string }) => f.path.slice('/iexec_in/'.length);
    const requesterSecrets: Record<number, string> = {};
    for (const [k, v] of Object.entries(t.requesterSecrets)) requesterSecrets[Number(k)] = v;
    const outDir = join(dir, 'build', 'test-out');
    await fs.rm(outDir, { recursive: true, force: true });
    const run = await runEnclave({
      image: build.out,
      fspfKey: build.fspfKey,
      fspfTag: build.fspfTag,
      mrenclave: build.mrenclave,
      ...(build.fsKeyFile ? { fsKeyFile: build.fsKeyFile } : {}),
      outDir,
      ...(t.args ? { args: t.args } : {}),
      env: {
        ...iexecEnv({
          taskId: `0x${createHash('sha256').update(`sealwork app test ${build.project.name}`).digest('hex')}`,
          ...(dataset ? { datasetFilename: name(dataset) } : {}),
          ...(t.appSecret !== undefined ? { appDeveloperSecret: t.appSecret } : {}),
          requesterSecrets,
          inputFiles: inputs.map(name),
        }),
        IEXEC_INPUT_FILES_FOLDER: '/iexec_in',
      },
      files: [...(dataset ? [dataset] : []), ...inputs].map((f) => ({ path: name(f), data: f.data })),
      timeoutMs: parseRunTimeout(t.timeout),
      workDir: scratch,
      // An app with egress runs behind the network shield, under the worker's address rules.
      network: { allowAddress: shieldAddressRule(fetchGuard(allowFetchHostsFromEnv())) },
    });
    const r: TestAppReturnType = {
      dir,
      build,
      run,
      outDir,
      inputs: {
        ...(dataset ? { dataset: name(dataset), datasetChecksum } : {}),
        inputFiles: inputs.map(name),
        ...(t.args ? { args: t.args } : {}),
        secrets: [
          ...(t.appSecret !== undefined ? ['IEXEC_APP_DEVELOPER_SECRET'] : []),
          ...Object.keys(requesterSecrets).map((k) => `IEXEC_REQUESTER_SECRET_${k}`),
        ],
      },
    };
    if (run.timedOut || run.exitCode !== 0) {
      r.failure = {
        code: 'APP_TEST_FAILED',
        message: run.timedOut
          ? `The app was killed after ${t.timeout}.`
          : `The app exited with status ${run.exitCode ?? run.signal}.`,
        hint: "See its logs. The enclave's file system is read-only: an app writes only to /iexec_out (its result) and /tmp (discarded).",
      };
      return r;
    }
    try {
      r.computed = await readComputedJson(outDir);
      r.resultDigest = await computeResultDigest(outDir, r.computed);
    } catch (e) {
      if (!isSealworkError(e)) throw e;
      r.failure = { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
      return r;
    }
    const path = r.computed.deterministicOutputPath;
    if (path?.startsWith('/iexec_out/')) {
      const host = join(outDir, path.slice('/iexec_out/'.length));
      const st = await fs.stat(host).catch(() => null);
      if (st?.isFile() && st.size <= 64 * 1024) r.result = await fs.readFile(host, 'utf8');
    }
    return r;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

export interface PushAppParameters {
  /** A protected image (OCI layout folder or archive), or an app folder (its build/app). */
  image: string;
  /** `<registry host[:port]>/<name>:<tag>` */
  ref: string;
  /** CA certificates (`*.crt`) of the registry's TLS (a self-signed local registry). */
  certDir?: string;
  /** `user:password`; else Docker's ~/.docker/config.json (or containers' auth.json). */
  creds?: string;
  authFile?: string;
}

/** `sealwork app push`: copy the image to an OCI registry; the pinned `name@sha256:…` to deploy. */
export async function pushApp(
  p: PushAppParameters,
): Promise<{ ref: string; digest: string; pinned: string; image: string; ms: number }> {
  const t0 = performance.now();
  const image = (await isAppFolder(p.image)) ? join(resolve(p.image), 'build', 'app') : resolve(p.image);
  const r = await pushImage({
    image,
    ref: p.ref,
    access: {
      ...(p.certDir ? { certDir: resolve(p.certDir) } : {}),
      ...(p.creds ? { creds: p.creds } : {}),
      ...(p.authFile ? { authFile: resolve(p.authFile) } : {}),
    },
    workDir: tmpdir(),
  });
  return { ...r, image, ms: Math.round(performance.now() - t0) };
}

/** `app deploy --publish-order <volume>`: sign and publish an open TEE app order for the new app. */
export async function publishTeeAppOrder(
  p: ChainParameters & { app: string; volume: number },
): Promise<{ orderHash: string; txHash: string }> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'sealwork-order-'));
  try {
    const file = join(dir, 'app-order.json');
    await signOrderToFile({
      ...p,
      kind: 'app',
      fields: { app: p.app, tag: 'tee', volume: String(p.volume) },
      out: file,
    });
    const r = await publishOrderFile({ ...p, file });
    return { orderHash: r.orderHash, txHash: r.txHash };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
