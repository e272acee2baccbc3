import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_ENTRY, ROOT, runCli, tempDir } from '../helpers/cli.js';

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string>;
before(() => {
  tmp = tempDir();
  env = { SEALWORK_HOME: join(tmp.dir, 'home') };
});
after(() => tmp.cleanup());

describe('sealwork dataset (CLI)', () => {
  it('encrypts, prints path, key file and checksum but not the key; decrypts back', async () => {
    const p = join(tmp.dir, 'data.csv');
    await fs.writeFile(p, 'a,b\n1,2\n');
    const r = await runCli(['dataset', 'encrypt', p], { env });
    assert.equal(r.code, 0, r.stderr);
    const keyFile = join(tmp.dir, 'home', 'keys', 'datasets', 'data.csv.enc.key');
    assert.match(r.stdout, new RegExp(`encrypted: ${p}\\.enc`));
    assert.ok(r.stdout.includes(`key file:  ${keyFile}`), r.stdout);
    const key = (await fs.readFile(keyFile, 'utf8')).trim();
    assert.equal(r.stdout.includes(key), false, 'the key is not printed without --show-key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const sum = execFileSync('sha256sum', [`${p}.enc`], { encoding: 'utf8' }).split(' ')[0];
    assert.match(r.stdout, new RegExp(`checksum:  0x${sum}`));

    const d = await runCli(
      ['dataset', 'decrypt', `${p}.enc`, '--key-file', keyFile, '--out', join(tmp.dir, 'back.csv')],
      {
        env,
      },
    );
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await fs.readFile(join(tmp.dir, 'back.csv'), 'utf8'), 'a,b\n1,2\n');

    const c = await runCli(['dataset', 'checksum', `${p}.enc`], { env });
    assert.equal(c.stdout.trim(), `0x${sum}`);
  });

  it('--json gives machine-readable output, --show-key includes the key', async () => {
    const p = join(tmp.dir, 'j.txt');
    await fs.writeFile(p, 'json');
    const r = await runCli(
      ['--json', 'dataset', 'encrypt', p, '--key-file', join(tmp.dir, 'j.key'), '--show-key'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.encrypted, `${p}.enc`);
    assert.equal(o.key, (await fs.readFile(join(tmp.dir, 'j.key'), 'utf8')).trim());
    assert.match(o.checksum, /^0x[0-9a-f]{64}$/);
    assert.equal(o.plainSize, 4);
    assert.equal(o.encryptedSize, 32);
  });

  it('a user error is one clear line with its code, non-zero exit, no stack trace; --json gives the object', async () => {
    const missing = join(tmp.dir, 'missing.csv');
    const r = await runCli(['dataset', 'encrypt', missing], { env });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^error \[FILE_NOT_FOUND\]: .*missing\.csv.*Check the path\./);
    assert.equal(/\s+at\s+\S+\s+\(/.test(r.stderr), false, 'no stack frames');

    const j = await runCli(['--json', 'dataset', 'decrypt', missing, '--key-file', missing], { env });
    assert.equal(j.code, 1);
    const o = JSON.parse(j.stdout);
    assert.equal(o.error.code, 'FILE_NOT_FOUND');
    assert.ok(o.error.message.length > 0);
    assert.deepEqual(o.error.details, { path: missing });
  });

  it('refuses an existing output unless --force', async () => {
    const p = join(tmp.dir, 'f.txt');
    await fs.writeFile(p, 'x');
    await fs.writeFile(`${p}.enc`, 'keep');
    const r = await runCli(['dataset', 'encrypt', p, '--key-file', join(tmp.dir, 'f.key')], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /OUTPUT_EXISTS.*--force/);
    assert.equal(await fs.readFile(`${p}.enc`, 'utf8'), 'keep');
    const f = await runCli(['dataset', 'encrypt', p, '--key-file', join(tmp.dir, 'f.key'), '--force'], {
      env,
    });
    assert.equal(f.code, 0, f.stderr);
    assert.equal((await fs.stat(`${p}.enc`)).size, 32);
  });

  it('usage errors exit 2', async () => {
    const r = await runCli(['dataset', 'decrypt', 'x.enc'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--key-file/);
  });

  it('Ctrl-C during encryption leaves no partial output and no key file', async () => {
    const dir = join(tmp.dir, 'sigint');
    await fs.mkdir(dir);
    const fifo = join(dir, 'input.fifo');
    execFileSync('mkfifo', [fifo]);
    const out = join(dir, 'out.enc');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI_ENTRY,
        'dataset',
        'encrypt',
        fifo,
        '--out',
        out,
        '--key-file',
        join(dir, 'k.key'),
      ],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
      child.on('close', (code, signal) => res({ code, signal })),
    );
    // Feed the pipe until the CLI has started writing its temporary file, then interrupt it.
    const writer = await fs.open(fifo, 'w');
    const deadline = Date.now() + 30_000;
    let partial: string | undefined;
    while (!partial && Date.now() < deadline) {
      await writer.write(Buffer.alloc(1 << 20, 1));
      partial = (await fs.readdir(dir)).find((n) => n.endsWith('.partial'));
    }
    assert.ok(partial, 'the encryption started writing a temporary file');
    child.kill('SIGINT');
    const { code, signal } = await exited;
    await writer.close().catch(() => {});
    assert.ok(
      signal === 'SIGINT' || (code !== null && code !== 0),
      `interrupted: code ${code} signal ${signal}`,
    );
    const left = (await fs.readdir(dir)).filter((n) => n !== 'input.fifo');
    assert.deepEqual(left, [], 'nothing left behind');
  });

  it('the installed bin runs the compiled CLI (after npm install / npm run build)', async (t) => {
    const main = join(ROOT, 'dist', 'cli', 'main.js');
    if (!existsSync(main)) {
      t.skip('dist/ not built: run `npm install` or `npm run build` first');
      return;
    }
    const pkg = JSON.parse(await fs.readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = execFileSync(process.execPath, [join(ROOT, 'bin', 'sealwork.js'), '--version'], {
      encoding: 'utf8',
    });
    assert.equal(v.trim(), pkg.version);
  });
});
