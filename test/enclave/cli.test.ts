import assert from 'node:assert/strict';
import { promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { appendLayer, busyboxImage } from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('sealwork app build / measure / exec', [NEEDS_BUSYBOX, NEEDS_BWRAP]);

describe('sealwork app build / measure / exec', { skip }, () => {
  let t: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  let built: Record<string, any>;
  before(async () => {
    t = tempDir('sealwork-enclave-cli-');
    env = { SEALWORK_HOME: join(t.dir, 'home'), TMPDIR: t.dir };
    await busyboxImage(
      join(t.dir, 'src.tar'),
      [
        { name: 'app/', type: 'directory' },
        {
          name: 'app/run.sh',
          data: '#!/bin/sh\ncat /data/greeting.txt\necho "args: $*" > /iexec_out/out.txt\necho "$GREETING" >> /iexec_out/out.txt\nexit "${CODE:-0}"\n',
          mode: 0o755,
        },
        { name: 'data/', type: 'directory' },
        { name: 'data/greeting.txt', data: 'hi from an encrypted region\n' },
      ],
      { format: 'docker-tar' },
    );
  });
  after(() => t.cleanup());

  it('builds, prints the fingerprint and the mrenclave JSON, and measures the same', async () => {
    const r = await runCli(
      [
        '--json',
        'app',
        'build',
        join(t.dir, 'src.tar'),
        '--entrypoint',
        'sh /app/run.sh',
        '--heap',
        '512M',
        '--region',
        '/:authenticated',
        '--region',
        '/data:encrypted',
        '--out',
        join(t.dir, 'app'),
        '--mrenclave-out',
        join(t.dir, 'mrenclave.json'),
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    built = JSON.parse(r.stdout);
    assert.match(built.fingerprint, /^[0-9a-f]{64}\|[0-9a-f]{64}\|[0-9a-f]{32}$/);
    assert.equal(built.simulated, true);
    assert.equal(built.fingerprint, `${built.mrenclave}|${built.fspfKey}|${built.fspfTag}`);
    assert.deepEqual(JSON.parse(await fs.readFile(join(t.dir, 'mrenclave.json'), 'utf8')), {
      framework: 'SCONE',
      version: 'v5',
      entrypoint: 'sh /app/run.sh',
      heapSize: 512 * 1024 * 1024,
      fingerprint: built.fingerprint,
    });
    assert.match(built.checksum, /^0x[0-9a-f]{64}$/);
    assert.ok(built.fsKeyFile.startsWith(join(t.dir, 'home')));
    assert.equal(statSync(built.fsKeyFile).mode & 0o777, 0o600);

    const m = await runCli(['app', 'measure', join(t.dir, 'app')], { env });
    assert.equal(m.code, 0, m.stderr);
    assert.ok(m.stdout.includes(`fingerprint: ${built.fingerprint}`), m.stdout);
    assert.match(m.stdout, /simulated: +true/);
  });

  it('runs with the fingerprint; outputs appear in --out and the exit status is passed on', async () => {
    const out = join(t.dir, 'out');
    const r = await runCli(
      [
        'app',
        'exec',
        join(t.dir, 'app'),
        '--fingerprint',
        built.fingerprint,
        '--fs-key-file',
        built.fsKeyFile,
        '--out',
        out,
        '--args',
        'one "two three"',
        '--env',
        'GREETING=hello world',
        '--env',
        'CODE=7',
        '--timeout',
        '30s',
      ],
      { env },
    );
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'hi from an encrypted region\n');
    assert.match(r.stderr, /simulated enclave/);
    assert.equal(await fs.readFile(join(out, 'out.txt'), 'utf8'), 'args: one two three\nhello world\n');
  });

  it("without --out, each run gets a fresh output folder: no app reads another run's result", async () => {
    const cwd = join(t.dir, 'fresh');
    await fs.mkdir(cwd);
    const args = ['--json', 'app', 'exec', join(t.dir, 'app'), '--fingerprint', built.fingerprint];
    const one = await runCli([...args, '--fs-key-file', built.fsKeyFile, '--env', 'GREETING=first'], {
      env,
      cwd,
    });
    const two = await runCli([...args, '--fs-key-file', built.fsKeyFile, '--env', 'GREETING=second'], {
      env,
      cwd,
    });
    assert.equal(one.code, 0, one.stderr);
    const [a, b] = [JSON.parse(one.stdout).outDir, JSON.parse(two.stdout).outDir] as string[];
    assert.notEqual(a, b);
    assert.deepEqual((await fs.readdir(cwd)).sort(), [a!, b!].map((d) => d.split('/').pop()).sort());
    assert.match(await fs.readFile(join(a!, 'out.txt'), 'utf8'), /first/);
    assert.match(await fs.readFile(join(b!, 'out.txt'), 'utf8'), /second/);
    assert.equal(statSync(a!).mode & 0o777, 0o700);
    const bad = await runCli([...args, '--fs-key-file', built.fsKeyFile, '--limit', 'nope=1'], { env, cwd });
    assert.match(bad.stdout + bad.stderr, /SANDBOX_LIMIT_INVALID/);
  });

  it('refuses a tampered image, naming the file, with a stable code', async () => {
    await fs.cp(join(t.dir, 'app'), join(t.dir, 'tampered'), { recursive: true });
    await appendLayer(join(t.dir, 'tampered'), [
      { name: 'app/run.sh', data: '#!/bin/sh\necho pwned\n', mode: 0o755 },
    ]);
    const args = [
      'app',
      'exec',
      join(t.dir, 'tampered'),
      '--fspf-key',
      built.fspfKey,
      '--fspf-tag',
      built.fspfTag,
    ];
    const r = await runCli([...args, '--fs-key-file', built.fsKeyFile, '--out', join(t.dir, 'out2')], {
      env,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error \[FSPF_FILE_CHANGED\]: Refusing to start: .*\/app\/run\.sh/);
    assert.doesNotMatch(r.stdout, /pwned/);
    const j = await runCli(['--json', ...args, '--out', join(t.dir, 'out2')], { env });
    assert.notEqual(j.code, 0);
    const err = JSON.parse(j.stdout || j.stderr);
    assert.equal(err.code ?? err.error?.code, 'FSPF_FILE_CHANGED');
    const bad = await runCli(['app', 'exec', join(t.dir, 'app'), '--fingerprint', 'nope'], { env });
    assert.match(bad.stderr, /FINGERPRINT_INVALID/);
  });
});
