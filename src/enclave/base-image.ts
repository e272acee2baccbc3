/**
 * sealwork's curated base images (`sealwork image base python|node|shell`): minimal OCI images made
 * of Debian packages — the runtime and the libraries it loads, nothing else (no shell in the
 * python and node images, no package manager, no docs).
 *
 * Two builders, same result format:
 *   - `mmdebstrap` (Debian): `--variant=extract` unpacks the packages and their dependencies,
 *     fetched from the host's apt sources, into a folder; no maintainer script runs;
 *   - `host`: the files of the host's installed packages (`dpkg -L`), their `Depends` followed,
 *     when mmdebstrap is missing or cannot reach the mirror.
 * Either way the folder is packed reproducibly (layer-tree.ts): the same package versions give the
 * same manifest digest. The package list is in the image's labels.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SealworkError } from '../errors.js';
import { writeOciImage } from './oci.js';
import { addHostDir, packTree, sourceDateEpoch, treePath, type Tree } from './layer-tree.js';

const run = promisify(execFile);

export const BASE_NAMES = ['python', 'node', 'shell'] as const;
export type BaseName = (typeof BASE_NAMES)[number];
export type BaseBuilder = 'mmdebstrap' | 'host';

interface BaseSpec {
  /** Root packages; both builders add their dependencies. */
  packages: string[];
  /** Dependencies not followed by the host builder (not needed to run the runtime). */
  stop: string[];
  env: string[];
  /** Paths left out, beyond the common ones. */
  exclude: RegExp[];
  /** busybox applets linked next to /bin/busybox. */
  applets?: string[];
  /** What the base holds, for the docs and `image base --json`. */
  description: string;
}

const COMMON_STOP = ['dpkg', 'debconf', 'perl-base', 'tar', 'ca-certificates', 'tzdata', 'readline-common'];
const COMMON_EXCLUDE = [
  /^\/usr\/share\/(doc|doc-base|man|info|lintian|locale|bug|bash-completion|gdb|menu|pixmaps|applications)(\/|$)/,
  /^\/usr\/include(\/|$)/,
  /^\/(dev|proc|sys|run|boot|home|root|srv|mnt|media|opt)(\/|$)/,
  /^\/var\/(cache|log|lib\/apt|lib\/dpkg|mail|spool|backups)(\/|$)/,
  /^\/etc\/(apt|dpkg|cron\.[a-z]+|logrotate\.d|init\.d|systemd)(\/|$)/,
];

export const BASE_SPECS: Record<BaseName, BaseSpec> = {
  python: {
    packages: ['python3-minimal', 'libpython3-stdlib'],
    stop: ['python3', 'media-types', 'libtirpc-common'],
    env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8', 'PYTHONDONTWRITEBYTECODE=1', 'PYTHONUNBUFFERED=1'],
    exclude: [/^\/usr\/lib\/python3\.\d+\/(test|idlelib|tkinter|ensurepip|lib2to3|turtledemo)(\/|$)/],
    description: "Debian's python3 interpreter and its standard library with the shared libraries they load",
  },
  node: {
    packages: ['nodejs'],
    stop: ['python3', 'nodejs-doc'],
    env: ['PATH=/usr/bin:/bin', 'NODE_ENV=production'],
    exclude: [/^\/usr\/lib\/node_modules(\/|$)/, /^\/usr\/share\/(nodejs|systemtap)(\/|$)/],
    description: "Debian's nodejs (the node binary, no npm) with the shared libraries it loads",
  },
  shell: {
    packages: ['busybox-static'],
    stop: [],
    env: ['PATH=/usr/bin:/bin'],
    exclude: [],
    applets: [
      'sh',
      'awk',
      'cat',
      'cut',
      'echo',
      'env',
      'grep',
      'head',
      'ls',
      'printf',
      'sed',
      'sha256sum',
      'sleep',
      'sort',
      'tail',
      'test',
      'tr',
      'wc',
      '[',
    ],
    description: "Debian's busybox-static: sh, awk, sed, grep, wc and friends in one static binary",
  },
};

export function isBaseName(x: string): x is BaseName {
  return (BASE_NAMES as readonly string[]).includes(x);
}

// ------------------------------------------------------------------------------ host builder

interface InstalledPackage {
  name: string;
  version: string;
  installed: boolean;
  provides: string[];
  depends: string[][];
}

/** `a (>= 1), b | c:any` → [['a'], ['b', 'c']]. */
function parseDepends(field: string): string[][] {
  return field
    .split(',')
    .map((alt) =>
      alt
        .split('|')
        .map((d) =>
          d
            .trim()
            .replace(/\s*\(.*\)$/, '')
            .replace(/:.*$/, ''),
        )
        .filter(Boolean),
    )
    .filter((a) => a.length > 0);
}

async function installedPackages(): Promise<Map<string, InstalledPackage>> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      'dpkg-query',
      ['-W', '-f', '${Package}\t${Version}\t${db:Status-Abbrev}\t${Provides}\t${Pre-Depends}, ${Depends}\n'],
      { maxBuffer: 64 * 1024 * 1024 },
    ));
  } catch (e) {
    throw new SealworkError(
      'BASE_IMAGE_BUILD_FAILED',
      'Cannot list the installed Debian packages (dpkg-query).',
      {
        hint: 'The host builder needs a Debian system (dpkg); or install mmdebstrap: apt-get install -y mmdebstrap.',
        cause: e,
      },
    );
  }
  const out = new Map<string, InstalledPackage>();
  for (const line of stdout.split('\n')) {
    const [name, version, status, provides, deps] = line.split('\t');
    if (!name || !version) continue;
    const pkg: InstalledPackage = {
      name,
      version,
      installed: (status ?? '').startsWith('ii'),
      provides: parseDepends(provides ?? '').flat(),
      depends: parseDepends(deps ?? ''),
    };
    if (pkg.installed || !out.has(name)) out.set(name, pkg);
  }
  return out;
}

/** The root packages and their installed dependencies, `stop` left out; virtual names resolved. */
function closure(spec: BaseSpec, all: Map<string, InstalledPackage>): InstalledPackage[] {
  const providers = new Map<string, string>();
  for (const p of all.values()) if (p.installed) for (const v of p.provides) providers.set(v, p.name);
  const resolveName = (n: string) => (all.get(n)?.installed ? n : providers.get(n));
  const stop = new Set([...COMMON_STOP, ...spec.stop]);
  const seen = new Map<string, InstalledPackage>();
  const queue = [...spec.packages];
  for (const root of spec.packages)
    if (!resolveName(root))
      throw new SealworkError(
        'BASE_IMAGE_PACKAGE_MISSING',
        `The Debian package ${root} is not installed on this host.`,
        {
          hint: `Install it (apt-get install -y ${root}), or install mmdebstrap to fetch packages from the Debian mirror.`,
          details: { package: root },
        },
      );
  while (queue.length) {
    const n = resolveName(queue.shift()!);
    if (!n || seen.has(n) || stop.has(n)) continue;
    const p = all.get(n)!;
    seen.set(n, p);
    for (const alt of p.depends) {
      const pick = alt.map(resolveName).find((x) => x !== undefined);
      if (pick) queue.push(pick);
    }
  }
  return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Where a host path lives in the image: its folder's real path (merged /usr: /lib → /usr/lib). */
async function realImagePath(p: string): Promise<string | null> {
  const dir = await fs.realpath(dirname(p)).catch(() => null);
  return dir === null ? null : treePath(join(dir, basename(p)));
}

async function hostTree(
  spec: BaseSpec,
  keep: (p: string) => boolean,
): Promise<{ tree: Tree; packages: string[] }> {
  const pkgs = closure(spec, await installedPackages());
  const tree: Tree = new Map();
  for (const pkg of pkgs) {
    const { stdout } = await run('dpkg', ['-L', pkg.name], { maxBuffer: 64 * 1024 * 1024 });
    for (const listed of stdout.split('\n')) {
      if (!listed.startsWith('/') || listed === '/.') continue;
      const ip = await realImagePath(listed);
      if (!ip || !keep(ip)) continue;
      const st = await fs.lstat(ip).catch(() => null); // dpkg path-exclude may have dropped it
      if (!st) continue;
      if (st.isDirectory()) tree.set(ip, { type: 'dir', mode: st.mode });
      else if (st.isSymbolicLink()) tree.set(ip, { type: 'symlink', target: await fs.readlink(ip) });
      else if (st.isFile()) tree.set(ip, { type: 'file', mode: st.mode, host: ip });
    }
  }
  // merged /usr: the top-level links of the host (/bin → usr/bin, /lib64 → usr/lib64 …)
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64']) {
    const st = await fs.lstat(top).catch(() => null);
    if (st?.isSymbolicLink()) tree.set(top, { type: 'symlink', target: await fs.readlink(top) });
  }
  return { tree, packages: pkgs.map((p) => `${p.name}=${p.version}`) };
}

// ------------------------------------------------------------------------------ mmdebstrap builder

/** The host's apt sources (deb822 `.sources` or one-line `.list` files), for mmdebstrap. */
async function aptSources(): Promise<string[]> {
  const out: string[] = [];
  if (await fs.stat('/etc/apt/sources.list').catch(() => null)) out.push('/etc/apt/sources.list');
  const d = '/etc/apt/sources.list.d';
  for (const n of (await fs.readdir(d).catch(() => [] as string[])).sort())
    if (n.endsWith('.sources') || n.endsWith('.list')) out.push(join(d, n));
  return out;
}

async function debianSuite(): Promise<string> {
  const text = await fs.readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^VERSION_CODENAME=(\S+)$/m.exec(text)?.[1]?.replace(/"/g, '') ?? 'stable';
}

export async function mmdebstrapAvailable(): Promise<boolean> {
  return run('mmdebstrap', ['--version']).then(
    () => true,
    () => false,
  );
}

async function mmdebstrapTree(
  spec: BaseSpec,
  scratch: string,
  keep: (p: string) => boolean,
): Promise<{ tree: Tree; packages: string[] }> {
  const dir = join(scratch, 'rootfs');
  const sources = await aptSources();
  try {
    await run(
      'mmdebstrap',
      [
        '--quiet',
        '--variant=extract',
        `--include=${spec.packages.join(',')}`,
        '--skip=cleanup/apt/cache',
        '--format=directory',
        await debianSuite(),
        dir,
        ...sources,
      ],
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SOURCE_DATE_EPOCH: String(sourceDateEpoch()) } },
    );
  } catch (e) {
    throw new SealworkError(
      'BASE_IMAGE_BUILD_FAILED',
      `mmdebstrap could not build the root file system: ${(e as { stderr?: string }).stderr?.trim().split('\n').slice(-1)[0] ?? (e as Error).message}`,
      {
        hint: "Check that the Debian mirror of /etc/apt/sources.list.d is reachable, or build from the host's packages with --builder host.",
        cause: e,
      },
    );
  }
  const debs = (await fs.readdir(join(dir, 'var/cache/apt/archives')).catch(() => [] as string[]))
    .filter((n) => n.endsWith('.deb'))
    .map((n) => {
      const [name, version] = n.slice(0, -4).split('_');
      return `${name}=${decodeURIComponent(version ?? '')}`;
    })
    .sort();
  const tree: Tree = new Map();
  await addHostDir(tree, dir, '/', keep);
  return { tree, packages: debs };
}

// ------------------------------------------------------------------------------ the image

export interface BuildBaseImageParameters {
  name: BaseName;
  /** OCI layout folder to write. */
  out: string;
  /** `auto` (default): mmdebstrap when it is installed and succeeds, else the host's packages. */
  builder?: BaseBuilder | 'auto';
  /** Scratch folder. */
  workDir: string;
}

export interface BuildBaseImageReturnType {
  name: BaseName;
  ref: string;
  out: string;
  digest: string;
  builder: BaseBuilder;
  /** Why `auto` fell back to the host's packages. */
  fallbackReason?: string;
  packages: string[];
  files: number;
  /** Size of the (uncompressed) layer. */
  bytes: number;
  description: string;
}

/** Build a base image into `out` (replaced atomically). */
export async function buildBaseImage(p: BuildBaseImageParameters): Promise<BuildBaseImageReturnType> {
  const spec = BASE_SPECS[p.name];
  const excludes = [...COMMON_EXCLUDE, ...spec.exclude];
  const keep = (ip: string) => !excludes.some((r) => r.test(ip)) && !/\/__pycache__(\/|$)/.test(ip);
  const scratch = await fs.mkdtemp(join(p.workDir, 'sealwork-base-'));
  try {
    let built: { tree: Tree; packages: string[] };
    let builder: BaseBuilder;
    let fallbackReason: string | undefined;
    const wanted = p.builder ?? 'auto';
    if (wanted === 'mmdebstrap' || (wanted === 'auto' && (await mmdebstrapAvailable()))) {
      try {
        built = await mmdebstrapTree(spec, scratch, keep);
        builder = 'mmdebstrap';
      } catch (e) {
        if (wanted === 'mmdebstrap') throw e;
        fallbackReason = (e as Error).message;
        await fs.rm(join(scratch, 'rootfs'), { recursive: true, force: true });
        built = await hostTree(spec, keep);
        builder = 'host';
      }
    } else {
      if (wanted === 'auto') fallbackReason = 'mmdebstrap is not installed';
      built = await hostTree(spec, keep);
      builder = 'host';
    }
    const { tree, packages } = built;
    if (spec.applets) {
      const bb = [...tree.entries()].find(([k, n]) => k.endsWith('/busybox') && n.type === 'file')?.[0];
      if (bb)
        for (const a of spec.applets) tree.set(`${dirname(bb)}/${a}`, { type: 'symlink', target: 'busybox' });
    }
    tree.set('/tmp', { type: 'dir', mode: 0o1777 });
    tree.set('/etc', { type: 'dir', mode: 0o755 });
    const layer = await packTree(join(scratch, 'layer.tar'), tree);
    const ref = `sealwork/${p.name}`;
    const created = new Date(sourceDateEpoch() * 1000).toISOString();
    const tmpOut = `${p.out}.partial`;
    await fs.rm(tmpOut, { recursive: true, force: true });
    await fs.mkdir(dirname(p.out), { recursive: true });
    const { manifestDigest } = await writeOciImage({
      out: tmpOut,
      config: {
        created,
        architecture: 'amd64',
        os: 'linux',
        config: {
          Env: spec.env,
          WorkingDir: '/',
          Labels: {
            'org.opencontainers.image.title': ref,
            'org.opencontainers.image.description': spec.description,
            'io.sealwork.base': p.name,
            'io.sealwork.builder': builder,
            'io.sealwork.packages': packages.join(' '),
          },
        },
        history: [
          { created, created_by: `sealwork image base ${p.name} (${builder}): ${packages.join(' ')}` },
        ],
      },
      layers: [layer],
      annotations: { 'org.opencontainers.image.ref.name': ref },
      workDir: scratch,
    });
    await fs.rm(p.out, { recursive: true, force: true });
    await fs.rename(tmpOut, p.out);
    return {
      name: p.name,
      ref,
      out: p.out,
      digest: manifestDigest,
      builder,
      ...(fallbackReason ? { fallbackReason } : {}),
      packages,
      files: tree.size,
      bytes: layer.size,
      description: spec.description,
    };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
