/**
 * OCI Distribution registries through `skopeo` (Debian): `app push` copies a local OCI layout (or
 * OCI archive) to `<registry>/<name>:<tag>` and reports the manifest digest; the worker pulls
 * `<registry>/<name>@sha256:…` into an OCI layout and checks the manifest against that digest.
 * skopeo speaks the registry protocol (basic and token auth, TLS) and reads credentials the Docker
 * way (`~/.docker/config.json`, or containers' auth.json); no registry client is written here.
 * `--preserve-digests` everywhere: the manifest (and so the digest an app is deployed with) is never
 * rewritten (skopeo would otherwise gzip sealwork's uncompressed layers on the way).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SealworkError } from '../errors.js';

const run = promisify(execFile);

export interface ImageRef {
  /** `host[:port]` */
  registry: string;
  /** `name/space` */
  repository: string;
  tag?: string;
  /** `sha256:<hex>` */
  digest?: string;
}

const REF =
  /^((?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::\d{1,5})?)\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/;

/** Parse `registry/name[:tag][@sha256:…]`; undefined when `s` is not an image reference with a registry host. */
export function parseImageRef(s: string): ImageRef | undefined {
  const m = REF.exec(s);
  if (!m) return undefined;
  const registry = m[1]!;
  // `name/x` alone is not a registry host: it needs a dot, a port, or localhost.
  if (!/[.:]/.test(registry) && registry !== 'localhost') return undefined;
  return { registry, repository: m[2]!, ...(m[3] ? { tag: m[3] } : {}), ...(m[4] ? { digest: m[4] } : {}) };
}

export function formatImageRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

export interface RegistryAccess {
  /** Folder of extra CA certificates (`*.crt`) for the registry's TLS, as skopeo's --cert-dir. */
  certDir?: string;
  /** `user:password` (else skopeo reads ~/.docker/config.json or auth.json). */
  creds?: string;
  /** Docker-style auth file to read credentials from. */
  authFile?: string;
}

function accessArgs(side: 'src' | 'dest', a: RegistryAccess): string[] {
  return [
    ...(a.certDir ? [`--${side}-cert-dir`, a.certDir] : []),
    ...(a.creds ? [`--${side}-creds`, a.creds] : []),
    ...(a.authFile ? [`--${side}-authfile`, a.authFile] : []),
  ];
}

async function skopeo(args: string[], what: string): Promise<void> {
  try {
    await run('skopeo', args, { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new SealworkError('REGISTRY_CLIENT_MISSING', 'skopeo is not installed.', {
        hint: 'Install it: apt-get install -y skopeo.',
      });
    const line = (err.stderr ?? err.message).trim().split('\n').slice(-1)[0];
    throw new SealworkError('REGISTRY_FAILED', `${what} failed: ${line}`, {
      hint: 'Check the reference, that the registry answers over TLS (--cert-dir for a self-signed one) and the credentials (--creds, or ~/.docker/config.json).',
      cause: e,
    });
  }
}

/** Push an OCI layout folder or OCI archive to `ref` (a tag); returns the manifest digest. */
export async function pushImage(p: {
  image: string;
  ref: string;
  access?: RegistryAccess;
  workDir: string;
}): Promise<{ ref: string; digest: string; pinned: string }> {
  const parsed = parseImageRef(p.ref);
  if (!parsed || parsed.digest)
    throw new SealworkError('IMAGE_REF_INVALID', `${p.ref} is not a registry reference to push to.`, {
      hint: 'Write <registry host[:port]>/<name>:<tag>, e.g. 127.0.0.1:5000/hello:1.',
    });
  const st = await fs.stat(p.image).catch(() => null);
  if (!st)
    throw new SealworkError('IMAGE_INVALID', `${p.image} does not exist.`, {
      hint: 'Give the image `app build` wrote.',
    });
  const src = st.isDirectory() ? `oci:${p.image}` : `oci-archive:${p.image}`;
  const digestFile = join(await fs.mkdtemp(join(p.workDir, 'sealwork-push-')), 'digest');
  try {
    await skopeo(
      [
        'copy',
        '--quiet',
        '--preserve-digests',
        '--digestfile',
        digestFile,
        ...accessArgs('dest', p.access ?? {}),
        src,
        `docker://${p.ref}`,
      ],
      `Pushing ${p.image} to ${p.ref}`,
    );
    const digest = (await fs.readFile(digestFile, 'utf8')).trim();
    return { ref: p.ref, digest, pinned: formatImageRef({ ...parsed, tag: undefined, digest }) };
  } finally {
    await fs.rm(join(digestFile, '..'), { recursive: true, force: true });
  }
}

/** Pull `ref` (which must carry its digest) into a new OCI layout folder `out`. */
export async function pullImage(p: { ref: ImageRef; out: string; access?: RegistryAccess }): Promise<void> {
  await skopeo(
    [
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-oci-accept-uncompressed-layers',
      ...accessArgs('src', p.access ?? {}),
      `docker://${formatImageRef(p.ref)}`,
      `oci:${p.out}`,
    ],
    `Pulling ${formatImageRef(p.ref)}`,
  );
}
