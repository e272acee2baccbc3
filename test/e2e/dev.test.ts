/**
 * The README's main job: `sealwork dev --exit-after-demo` starts the embedded chain, SMS, storage
 * and worker under a fresh home, runs the narrated demo and exits 0 with the decrypted result;
 * `sealwork dev --no-demo` keeps the stack up until interrupted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../src/chain/anvil.js';
import { CLI_ENTRY, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { hasBusybox, hasBwrap } from '../helpers/images.js';

const skip = !hasBwrap() || !hasBusybox() ? 'needs bubblewrap and busybox-static' : false;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('sealwork dev', { skip }, () => {
  it('--exit-after-demo runs the whole story and exits 0 with the decrypted result; the chain is stopped', async () => {
    const t = tempDir('sealwork-dev-');
    try {
      const port = await freePort();
      const r = await runCli(
        ['--home', t.dir, '--json', 'dev', '--exit-after-demo', '--chain-port', String(port)],
        {
          timeoutMs: 90_000,
        },
      );
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const j = JSON.parse(r.stdout) as {
        ok: boolean;
        result: string;
        steps: { step: string; detail: string }[];
      };
      assert.equal(j.ok, true);
      assert.match(j.result, /^patients: 100\nmean glucose: 123\.2 mg\/dL\n/);
      const steps = j.steps.map((s) => s.step);
      for (const s of ['app', 'dataset', 'requester', 'deal', 'task', 'result'])
        assert.ok(steps.includes(s), s);
      // Distinct dev accounts narrate their parts.
      const text = j.steps.map((s) => s.detail).join('\n');
      for (const who of ['[app-dev', '[dataset-owner', '[requester', '[workerpool]'])
        assert.ok(text.includes(who), who);
      const rec = JSON.parse(readFileSync(join(t.dir, 'chain', 'embedded.json'), 'utf8')) as { pid: number };
      assert.equal(alive(rec.pid), false, 'the embedded chain started by dev is stopped');
      assert.equal(existsSync(join(t.dir, 'stack.json')), false);
    } finally {
      t.cleanup();
    }
  });

  it('--no-demo keeps the stack running until interrupted', async () => {
    const t = tempDir('sealwork-dev-');
    try {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          CLI_ENTRY,
          '--home',
          t.dir,
          '--json',
          'dev',
          '--no-demo',
          '--chain-port',
          String(port),
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      const end = Date.now() + 60_000;
      while (!existsSync(join(t.dir, 'stack.json')) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 100));
      const stack = JSON.parse(readFileSync(join(t.dir, 'stack.json'), 'utf8')) as {
        smsUrl: string;
        workerpool: string;
      };
      assert.match(stack.smsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      // Other commands find the running services through the home.
      const put = join(t.dir, 'x.txt');
      (await import('node:fs')).writeFileSync(put, 'x');
      const r = await runCli(['--home', t.dir, '--json', 'storage', 'put', put]);
      assert.equal(r.code, 0, r.stderr);
      child.kill('SIGINT');
      assert.equal(await closed, 0);
      assert.match(out, /"ok": true/);
      assert.equal(existsSync(join(t.dir, 'stack.json')), false);
    } finally {
      t.cleanup();
    }
  });
});
