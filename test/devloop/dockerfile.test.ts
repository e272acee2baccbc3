import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDockerfile, parseDockerfile, parseFrom } from '../../src/enclave/dockerfile.js';
import { openImage, unpackImage } from '../../src/enclave/oci.js';
import { isSealworkError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';
import { layerTar, writeImage } from '../helpers/images.js';

const refused = (code: string, detail?: Record<string, unknown>) => (e: unknown) => {
  assert.ok(isSealworkError(e, code as never), `expected ${code}, got ${String(e)}`);
  for (const [k, v] of Object.entries(detail ?? {})) assert.equal((e as any).details?.[k], v);
  return true;
};

describe('Dockerfile parsing (the subset without RUN)', () => {
  it('reads continuations, comments, exec and shell forms', () => {
    const steps = parseDockerfile(
      '# comment\nFROM sealwork/python\n\nENV A=1 \\\n  B="two words"\nWORKDIR /app\nCOPY a.py b.py /app/\nENTRYPOINT ["python3", "/app/a.py"]\n',
    );
    assert.deepEqual(
      steps.map((s) => [s.name, s.line]),
      [
        ['FROM', 2],
        ['ENV', 4],
        ['WORKDIR', 6],
        ['COPY', 7],
        ['ENTRYPOINT', 8],
      ],
    );
    assert.equal(parseFrom(steps[0]!), 'python');
  });

  it('names an unsupported instruction and its line', () => {
    assert.throws(
      () => parseDockerfile('FROM sealwork/python\nCOPY a /a\nRUN pip install numpy\n'),
      refused('DOCKERFILE_UNSUPPORTED', { line: 3, instruction: 'RUN' }),
    );
    assert.throws(
      () => parseDockerfile('FROM sealwork/node\nADD x /x\n'),
      refused('DOCKERFILE_UNSUPPORTED', { instruction: 'ADD' }),
    );
    assert.throws(
      () => parseDockerfile('FROM sealwork/node\nFROM sealwork/python\n'),
      refused('DOCKERFILE_UNSUPPORTED', { instruction: 'FROM' }),
    );
    assert.throws(() => parseDockerfile('COPY a /a\n'), refused('DOCKERFILE_INVALID'));
  });

  it('accepts only sealwork base images in FROM', () => {
    const from = (s: string) => parseFrom(parseDockerfile(`FROM ${s}\n`)[0]!);
    assert.equal(from('sealwork/shell:latest'), 'shell');
    assert.throws(() => from('python:3.12-slim'), refused('BASE_IMAGE_UNKNOWN'));
    assert.throws(() => from('sealwork/python AS build'), refused('DOCKERFILE_UNSUPPORTED'));
  });
});

describe('Dockerfile build on a base image', () => {
  let t: ReturnType<typeof tempDir>;
  let base: string;
  before(async () => {
    t = tempDir('sealwork-dockerfile-');
    base = await writeImage(
      join(t.dir, 'base'),
      [
        await layerTar([
          { name: 'bin/', type: 'directory' },
          { name: 'bin/tool', data: 'x', mode: 0o755 },
        ]),
      ],
      {
        config: {
          Env: ['PATH=/bin'],
          Cmd: ['/bin/tool'],
        },
      },
    );
    const ctx = join(t.dir, 'ctx');
    await fs.mkdir(join(ctx, 'lib'), { recursive: true });
    await fs.writeFile(join(ctx, 'app.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.writeFile(join(ctx, 'lib', 'data.txt'), 'data');
    await fs.writeFile(join(t.dir, 'outside.txt'), 'secret');
  });
  after(() => t.cleanup());

  const build = (dockerfile: string, out: string) =>
    buildDockerfile({
      context: join(t.dir, 'ctx'),
      dockerfile,
      out: join(t.dir, out),
      workDir: t.dir,
      resolveBase: async () => base,
    });

  it('adds one layer with COPY and WORKDIR, sets the config, and is reproducible', async () => {
    const df =
      'FROM sealwork/shell\nWORKDIR /app\nCOPY app.sh .\nCOPY lib /app/lib\nENV GREETING="hello there"\nLABEL team=demo\nUSER 1000\nENTRYPOINT ["/app/app.sh"]\nCMD ["x"]\n';
    const a = await build(df, 'a');
    const b = await build(df, 'b');
    assert.equal(a.manifestDigest, b.manifestDigest, 'same inputs, same digest');
    const c = a.config.config!;
    assert.deepEqual(c.Entrypoint, ['/app/app.sh']);
    assert.deepEqual(c.Cmd, ['x']);
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, '1000');
    assert.equal(c.Labels?.team, 'demo');
    assert.ok(c.Env?.includes('GREETING=hello there') && c.Env.includes('PATH=/bin'));
    const img = await openImage(a.out, { workDir: t.dir });
    assert.equal(img.layers.length, 2);
    const root = join(t.dir, 'root');
    await fs.mkdir(root);
    await unpackImage(img, root);
    await img.cleanup();
    assert.equal(await fs.readFile(join(root, 'app', 'lib', 'data.txt'), 'utf8'), 'data');
    assert.equal((await fs.stat(join(root, 'app', 'app.sh'))).mode & 0o777, 0o755);
    assert.equal(await fs.readFile(join(root, 'bin', 'tool'), 'utf8'), 'x');
    await fs.writeFile(join(t.dir, 'ctx', 'lib', 'data.txt'), 'changed');
    const d = await build(df, 'd');
    assert.notEqual(d.manifestDigest, a.manifestDigest, 'a changed file changes the digest');
  });

  it('refuses COPY sources outside the context or missing', async () => {
    await assert.rejects(
      build('FROM sealwork/shell\nCOPY ../outside.txt /x\n', 'e'),
      refused('DOCKERFILE_COPY_INVALID', { line: 2 }),
    );
    await assert.rejects(
      build('FROM sealwork/shell\nCOPY nope.txt /x\n', 'f'),
      refused('DOCKERFILE_COPY_INVALID'),
    );
  });
});
