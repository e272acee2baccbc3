/**
 * A daemonless Dockerfile builder for the instructions that need no container: FROM (a sealwork
 * base image), COPY, ENV, WORKDIR, ENTRYPOINT, CMD, USER, LABEL. The base image's layers are kept
 * as they are and one reproducible layer is added with what COPY and WORKDIR make (sorted, owners
 * 0:0, fixed mtime: see layer-tree.ts), as jib and ko build images. Anything else (RUN, ADD, ARG,
 * multi-stage builds…) is refused by name and line: sealwork's base images have no shell or
 * package manager to run it with.
 */
import { promises as fs } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import { SealworkError } from '../errors.js';
import { addHostDir, packTree, treePath, type Tree } from './layer-tree.js';
import { openImage, writeOciImage, type ImageConfigJson, type LayerBlob } from './oci.js';
import { splitCommand } from './util.js';

export const SUPPORTED_INSTRUCTIONS = [
  'FROM',
  'COPY',
  'ENV',
  'WORKDIR',
  'ENTRYPOINT',
  'CMD',
  'USER',
  'LABEL',
] as const;
type Supported = (typeof SUPPORTED_INSTRUCTIONS)[number];

export interface Instruction {
  name: Supported;
  /** The text after the instruction word (continuations joined). */
  args: string;
  /** 1-based line where it starts. */
  line: number;
}

function dockerfileError(msg: string, line: number, hint: string): SealworkError {
  return new SealworkError('DOCKERFILE_INVALID', `Dockerfile line ${line}: ${msg}`, {
    hint,
    details: { line },
  });
}

/** Parse a Dockerfile into instructions, refusing the unsupported ones by name. */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const out: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let cur = lines[i]!;
    if (/^\s*(#|$)/.test(cur)) continue;
    while (/\\\s*$/.test(cur) && i + 1 < lines.length) {
      cur = cur.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i]!)) cur += lines[i]!;
    }
    const m = /^\s*([A-Za-z]+)(?:\s+(.*))?$/.exec(cur);
    if (!m)
      throw dockerfileError(
        `cannot read "${cur.trim().slice(0, 60)}".`,
        start,
        'Each line starts with an instruction, e.g. COPY app.py /app/.',
      );
    const name = m[1]!.toUpperCase();
    if (!(SUPPORTED_INSTRUCTIONS as readonly string[]).includes(name))
      throw new SealworkError(
        'DOCKERFILE_UNSUPPORTED',
        `Dockerfile line ${start}: ${name} is not supported by sealwork's daemonless builder.`,
        {
          hint: `Supported: ${SUPPORTED_INSTRUCTIONS.join(', ')}. ${name === 'RUN' ? 'Base images have no shell or package manager: prepare files beforehand (e.g. pip install --target deps, npm install) and COPY them.' : name === 'ADD' ? 'Use COPY for local files.' : 'Remove it.'}`,
          details: { line: start, instruction: name },
        },
      );
    out.push({ name: name as Supported, args: (m[2] ?? '').trim(), line: start });
  }
  if (out[0]?.name !== 'FROM')
    throw dockerfileError(
      'the first instruction must be FROM.',
      out[0]?.line ?? 1,
      'Start with FROM sealwork/python (or node, shell).',
    );
  if (out.filter((x) => x.name === 'FROM').length > 1)
    throw new SealworkError(
      'DOCKERFILE_UNSUPPORTED',
      'Multi-stage Dockerfiles (several FROM) are not supported.',
      {
        hint: 'Keep one FROM sealwork/<base>.',
        details: { instruction: 'FROM' },
      },
    );
  return out;
}

/** Exec form (`["a", "b"]`) or shell form; the shell form is split without a shell (base images have none). */
function argv(ins: Instruction): string[] {
  if (ins.args.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(ins.args);
    } catch {
      throw dockerfileError(
        `${ins.name} is not a valid JSON array.`,
        ins.line,
        'Write e.g. ["python3", "/app/app.py"].',
      );
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw dockerfileError(
        `${ins.name} must be an array of strings.`,
        ins.line,
        'Write e.g. ["python3", "/app/app.py"].',
      );
    return v as string[];
  }
  return splitCommand(ins.args);
}

/** `K=V K2="a b"` or the legacy `K V…` form. */
function keyValues(ins: Instruction): [string, string][] {
  const words = splitCommand(ins.args);
  if (words.length === 0)
    throw dockerfileError(`${ins.name} needs arguments.`, ins.line, `Write ${ins.name} KEY=value.`);
  if (!words[0]!.includes('=')) {
    const rest = ins.args.slice(ins.args.indexOf(words[0]!) + words[0]!.length).trim();
    return [[words[0]!, rest]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw dockerfileError(`"${w}" is not KEY=value.`, ins.line, `Write ${ins.name} KEY=value.`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/** The base image a FROM names: `sealwork/<name>` (tag `latest` or none). */
export function parseFrom(ins: Instruction): string {
  const words = splitCommand(ins.args);
  if (words.length !== 1)
    throw new SealworkError(
      'DOCKERFILE_UNSUPPORTED',
      `Dockerfile line ${ins.line}: FROM ${ins.args} (flags or AS) is not supported.`,
      {
        hint: 'Write FROM sealwork/python (or node, shell).',
        details: { line: ins.line, instruction: 'FROM' },
      },
    );
  const m = /^sealwork\/([a-z0-9-]+)(?::latest)?$/.exec(words[0]!);
  if (!m)
    throw new SealworkError(
      'BASE_IMAGE_UNKNOWN',
      `Dockerfile line ${ins.line}: FROM ${words[0]} is not a sealwork base image.`,
      {
        hint: 'Start FROM sealwork/python, sealwork/node or sealwork/shell (built by `sealwork image base <name>`).',
        details: { line: ins.line, image: words[0] },
      },
    );
  return m[1]!;
}

async function copyInto(tree: Tree, context: string, ins: Instruction, workdir: string): Promise<void> {
  const words = ins.args.startsWith('[') ? argv(ins) : splitCommand(ins.args);
  let chmod: number | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const cm = /^--chmod=([0-7]{3,4})$/.exec(flag);
    if (cm) chmod = parseInt(cm[1]!, 8);
    else
      throw new SealworkError(
        'DOCKERFILE_UNSUPPORTED',
        `Dockerfile line ${ins.line}: COPY ${flag} is not supported.`,
        {
          hint: 'COPY takes --chmod=<octal> only (files are owned by root; the enclave runs as an unprivileged user).',
          details: { line: ins.line, instruction: 'COPY' },
        },
      );
  }
  if (words.length < 2)
    throw dockerfileError('COPY needs a source and a destination.', ins.line, 'Write COPY <src>... <dest>.');
  const destRaw = words[words.length - 1]!;
  const sources = words.slice(0, -1);
  const dest = treePath(posix.isAbsolute(destRaw) ? destRaw : posix.join(workdir, destRaw));
  const intoDir =
    destRaw.endsWith('/') ||
    destRaw === '.' ||
    destRaw.endsWith('/.') ||
    sources.length > 1 ||
    tree.get(dest)?.type === 'dir';
  const root = await fs.realpath(context);
  for (const s of sources) {
    const host = resolve(root, s);
    const real = await fs.realpath(host).catch(() => null);
    if (!real || (real !== root && !real.startsWith(root + sep)) || relative(root, host).startsWith('..'))
      throw new SealworkError(
        'DOCKERFILE_COPY_INVALID',
        `Dockerfile line ${ins.line}: COPY source ${s} ${real ? 'lies outside the build context' : 'does not exist'}.`,
        {
          hint: `Sources are relative to the app folder ${root}.`,
          details: { line: ins.line, source: s },
        },
      );
    const st = await fs.stat(real);
    const mode = (m: number) => chmod ?? (m & 0o111 ? 0o755 : 0o644);
    if (st.isDirectory()) {
      const sub: Tree = new Map();
      await addHostDir(sub, real, dest);
      for (const [k, n] of sub)
        tree.set(
          k,
          n.type === 'file'
            ? { ...n, mode: mode(n.mode) }
            : n.type === 'dir'
              ? { type: 'dir', mode: 0o755 }
              : n,
        );
      tree.set(dest, { type: 'dir', mode: 0o755 });
    } else {
      const target = intoDir ? `${dest}/${posix.basename(s)}` : dest;
      tree.set(treePath(target), { type: 'file', mode: mode(st.mode), host: real });
    }
  }
}

export interface DockerfileBuildParameters {
  /** The build context (the app folder). */
  context: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  /** The OCI layout of the base image FROM names (e.g. built by `sealwork image base`). */
  resolveBase(name: string): Promise<string>;
  /** OCI layout folder to write. */
  out: string;
  workDir: string;
}

export interface DockerfileBuildReturnType {
  out: string;
  base: string;
  baseImage: string;
  manifestDigest: string;
  config: ImageConfigJson;
  /** Entries added by COPY and WORKDIR. */
  added: number;
}

/** Build the Dockerfile into an OCI layout: the base's layers, plus one layer for COPY/WORKDIR. */
export async function buildDockerfile(p: DockerfileBuildParameters): Promise<DockerfileBuildReturnType> {
  const steps = parseDockerfile(p.dockerfile);
  const base = parseFrom(steps[0]!);
  const baseImage = await p.resolveBase(base);
  const img = await openImage(baseImage, { workDir: p.workDir });
  const scratch = await fs.mkdtemp(join(p.workDir, 'sealwork-dockerfile-'));
  try {
    const cfg = structuredClone(img.config.config ?? {});
    const env = new Map(
      (cfg.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    const labels = { ...(cfg.Labels ?? {}) };
    let workdir = cfg.WorkingDir || '/';
    const tree: Tree = new Map();
    for (const ins of steps.slice(1)) {
      if (ins.name === 'COPY') await copyInto(tree, p.context, ins, workdir);
      else if (ins.name === 'ENV') for (const [k, v] of keyValues(ins)) env.set(k, v);
      else if (ins.name === 'LABEL') for (const [k, v] of keyValues(ins)) labels[k] = v;
      else if (ins.name === 'WORKDIR') {
        workdir = treePath(posix.isAbsolute(ins.args) ? ins.args : posix.join(workdir, ins.args));
        if (!tree.has(workdir)) tree.set(workdir, { type: 'dir', mode: 0o755 });
      } else if (ins.name === 'ENTRYPOINT') {
        cfg.Entrypoint = argv(ins);
        cfg.Cmd = null; // as Docker: a new ENTRYPOINT resets the base's CMD
      } else if (ins.name === 'CMD') cfg.Cmd = argv(ins);
      else if (ins.name === 'USER') cfg.User = ins.args;
    }
    const layers: LayerBlob[] = [];
    for (const [i, l] of img.layers.entries()) {
      const copy = join(scratch, `base-${i}.tar`);
      await fs.link(l.path, copy).catch(() => fs.copyFile(l.path, copy));
      const digest = l.digest ?? '';
      layers.push({ path: copy, digest, size: (await fs.stat(copy)).size });
    }
    const added = tree.size;
    if (added > 0) layers.push(await packTree(join(scratch, 'app.tar'), tree));
    const config: ImageConfigJson = {
      ...img.config,
      config: {
        ...cfg,
        Env: [...env].map(([k, v]) => `${k}=${v}`),
        WorkingDir: workdir,
        Labels: labels,
      },
      history: [
        ...(img.config.history ?? []),
        { created_by: 'sealwork app build: Dockerfile (COPY, WORKDIR)', empty_layer: added === 0 },
      ],
    };
    const { manifestDigest } = await writeOciImage({ out: p.out, config, layers, workDir: scratch });
    return { out: p.out, base, baseImage, manifestDigest, config, added };
  } finally {
    await img.cleanup();
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
