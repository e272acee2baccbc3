/**
 * An app folder (`sealwork app init`): a Dockerfile, the app's code, a README and `sealwork.json`,
 * which holds the enclave settings (entrypoint, heap, stack, threads, file-system regions) and what
 * `sealwork app test` runs the app with (args, a sample dataset, input files, mock secrets).
 * Templates are plain folders under `templates/` at the package root.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SealworkError, fsError } from '../errors.js';

export const PROJECT_FILE = 'sealwork.json';
export const TEMPLATES = ['python', 'node', 'shell'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** The package's templates folder (the same from src/ under tsx and from dist/). */
export const TEMPLATES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');

const size = z.union([z.string().min(1), z.number().int().positive()]);

export const ProjectSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (at most 64)'),
  template: z.string().optional(),
  dockerfile: z.string().default('Dockerfile'),
  enclave: z.object({
    /** Default: the Dockerfile's ENTRYPOINT + CMD. */
    entrypoint: z.string().min(1).optional(),
    heap: size.default('1G'),
    stack: size.default('8M'),
    threads: z.number().int().min(1).max(256).default(4),
    regions: z.array(z.string()).optional(),
    /** Network shield: `host:port` destinations reached over TLS (measured; default none). */
    egress: z.array(z.string()).optional(),
  }),
  test: z
    .object({
      args: z.string().optional(),
      /** Sample dataset (relative to the folder): encrypted then decrypted through the worker's path. */
      dataset: z.string().optional(),
      inputFiles: z.array(z.string()).default([]),
      appSecret: z.string().optional(),
      requesterSecrets: z.record(z.string().regex(/^[1-9]\d{0,2}$/), z.string()).default({}),
      timeout: z.string().default('60s'),
    })
    .default({ inputFiles: [], requesterSecrets: {}, timeout: '60s' }),
});
export type Project = z.infer<typeof ProjectSchema>;

/** Read and check `<dir>/sealwork.json`. */
export async function loadProject(dir: string): Promise<Project> {
  const file = join(dir, PROJECT_FILE);
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT')
      throw new SealworkError('PROJECT_INVALID', `${dir} has no ${PROJECT_FILE}.`, {
        hint: 'Create an app folder with `sealwork app init <dir> --template python|node|shell`.',
        details: { path: file },
      });
    throw fsError(e, file, 'read');
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SealworkError('PROJECT_INVALID', `${file} is not valid JSON.`, {
      hint: 'Fix its syntax.',
      cause: e,
      details: { path: file },
    });
  }
  const r = ProjectSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new SealworkError(
      'PROJECT_INVALID',
      `${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}.`,
      {
        hint: 'See the README of the app folder for the fields of sealwork.json.',
        details: { path: file, field: issue.path.join('.') },
      },
    );
  }
  return r.data;
}

export function isTemplate(x: string): x is TemplateName {
  return (TEMPLATES as readonly string[]).includes(x);
}

async function copyTree(from: string, to: string): Promise<string[]> {
  const written: string[] = [];
  await fs.mkdir(to, { recursive: true });
  for (const d of await fs.readdir(from, { withFileTypes: true })) {
    const src = join(from, d.name);
    const dst = join(to, d.name);
    if (d.isDirectory()) written.push(...(await copyTree(src, dst)).map((f) => join(d.name, f)));
    else if (d.isFile()) {
      await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
      await fs.chmod(dst, (await fs.stat(src)).mode & 0o755);
      written.push(d.name);
    }
  }
  return written;
}

/** Write a new app folder from a template; refuses a folder that already holds files. */
export async function initProject(p: {
  dir: string;
  template: string;
  name?: string;
}): Promise<{ dir: string; template: TemplateName; name: string; files: string[] }> {
  if (!isTemplate(p.template))
    throw new SealworkError('TEMPLATE_UNKNOWN', `There is no app template "${p.template}".`, {
      hint: `Use --template ${TEMPLATES.join(', --template ')}.`,
    });
  const dir = resolve(p.dir);
  const existing = await fs.readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0)
    throw new SealworkError('PROJECT_EXISTS', `${dir} is not empty.`, {
      hint: 'Give a new or empty folder.',
      details: { path: dir },
    });
  const name =
    p.name ??
    basename(dir)
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') ??
    'app';
  const files = (await copyTree(join(TEMPLATES_DIR, p.template), dir)).sort();
  const pj = join(dir, PROJECT_FILE);
  const json = JSON.parse(await fs.readFile(pj, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(pj, `${JSON.stringify({ ...json, name: name || 'app' }, null, 2)}\n`);
  return { dir, template: p.template, name: name || 'app', files };
}
