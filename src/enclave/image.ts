/** Unpacked images: resolving the entrypoint's executable inside the root, and the enclave metadata. */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';
import { ENCLAVE_JSON_PATH, FSPF_PATH } from './fspf.js';
import type { EnclaveConfig } from './mrenclave.js';
import { components, isHex } from './util.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The SCONE version string put in the `mrenclave` JSON of an app deploy. */
export const SCONE_VERSION = 'v5';

/** `/.sealwork/enclave.json` of a protected image (public; measured through MrEnclave). */
export interface EnclaveJson extends EnclaveConfig {
  format: 'sealwork-enclave';
  version: 1;
  /** Always true: this runtime simulates SGX (no confidentiality against the host). */
  simulated: true;
  framework: 'SCONE';
  sconeVersion: string;
  /** The FSPF key (public: it is part of the fingerprint). */
  fspfKey: string;
  /** The executable that was measured (informational). */
  measured: string;
}

/**
 * Resolve an image path inside `root` the way the kernel would inside the container (links
 * followed relative to the image root, never to the host). Returns the final image path, or null.
 */
export async function resolveInRoot(root: string, path: string): Promise<string | null> {
  let todo = components(path);
  let done: string[] = [];
  for (let hops = 0; todo.length > 0;) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const next = [...done, part];
    const st = await fs.lstat(join(root, ...next)).catch(() => null);
    if (!st) return null;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const t = await fs.readlink(join(root, ...next));
      if (t.startsWith('/')) done = [];
      todo = [...components(t), ...todo];
    } else done = next;
  }
  return `/${done.join('/')}`;
}

async function isRegularFile(root: string, p: string): Promise<boolean> {
  const st = await fs.lstat(join(root, ...components(p))).catch(() => null);
  return Boolean(st?.isFile());
}

async function findCommand(root: string, name: string, env: string[], cwd: string): Promise<string | null> {
  if (name.includes('/')) {
    const p = await resolveInRoot(root, name.startsWith('/') ? name : `${cwd}/${name}`);
    return p && (await isRegularFile(root, p)) ? p : null;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) || DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = await resolveInRoot(root, `${dir}/${name}`);
    if (p && (await isRegularFile(root, p))) return p;
  }
  return null;
}

/**
 * The executable MrEnclave measures: argv[0] resolved in the image (PATH from the image config);
 * for a script (`#!`), its interpreter, following `#!/usr/bin/env prog` to `prog`.
 * `read` returns the content of an image path (plaintext, whatever its region).
 */
export async function measuredExecutable(
  root: string,
  argv: string[],
  env: string[],
  cwd: string,
  read: (imagePath: string) => Promise<Buffer>,
): Promise<{ path: string; content: Buffer; chain: string[] }> {
  const chain: string[] = [];
  let name = argv[0] ?? '';
  for (let depth = 0; depth < 5; depth++) {
    const p = await findCommand(root, name, env, cwd);
    if (!p)
      throw new SealworkError(
        'ENTRYPOINT_NOT_FOUND',
        `The entrypoint's program "${name}" is not in the image.`,
        {
          hint: 'Check --entrypoint: give an absolute path or a command on the image PATH.',
          details: { program: name, chain },
        },
      );
    chain.push(p);
    const content = await read(p);
    if (content[0] !== 0x23 || content[1] !== 0x21) return { path: p, content, chain };
    const line = content.subarray(2, Math.min(content.length, 512)).toString('utf8').split('\n')[0]!.trim();
    const [interp, arg] = line.split(/\s+/, 2);
    if (!interp)
      throw new SealworkError('ENTRYPOINT_INVALID', `Script ${p} has an empty #! line.`, {
        hint: 'Name the interpreter on the #! line.',
        details: { file: p },
      });
    name = interp.split('/').pop() === 'env' && arg && !arg.startsWith('-') ? arg : interp;
  }
  throw new SealworkError('ENTRYPOINT_INVALID', 'Too many nested #! interpreters.', { details: { chain } });
}

/** Read the public enclave metadata and the FSPF blob of an unpacked protected image. */
export async function readProtectedMeta(root: string): Promise<{ meta: EnclaveJson; fspfBlob: Buffer }> {
  const read = async (p: string) =>
    fs.readFile(join(root, ...components(p))).catch((e) => {
      throw new SealworkError('IMAGE_NOT_PROTECTED', `The image has no ${p}: it is not a protected image.`, {
        hint: 'Build it first with `sealwork app build <image> --entrypoint … --out <protected image>`.',
        details: { file: p },
        cause: e,
      });
    });
  const raw = await read(ENCLAVE_JSON_PATH);
  let meta: EnclaveJson;
  try {
    meta = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new SealworkError('IMAGE_INVALID', `${ENCLAVE_JSON_PATH} is not valid JSON.`, {
      details: { file: ENCLAVE_JSON_PATH },
      cause: e,
    });
  }
  if (
    meta?.format !== 'sealwork-enclave' ||
    !Array.isArray(meta.entrypoint) ||
    !meta.entrypoint.every((a) => typeof a === 'string') ||
    !isHex(String(meta.fspfKey), 32) ||
    typeof meta.debug !== 'boolean' ||
    (meta.egress !== undefined &&
      (!Array.isArray(meta.egress) || !meta.egress.every((d) => typeof d === 'string')))
  )
    throw new SealworkError('IMAGE_INVALID', `${ENCLAVE_JSON_PATH} is not sealwork enclave metadata.`, {
      hint: 'Rebuild the image with `sealwork app build`.',
      details: { file: ENCLAVE_JSON_PATH },
    });
  return { meta, fspfBlob: await read(FSPF_PATH) };
}
