/**
 * The README's main job: `sealwork dev --exit-after-demo` starts the embedded chain, SMS, storage
 * and worker under a fresh home, runs the narrated demo and exits 0 with the decrypted result;
 * `sealwork dev --no-demo` keeps the stack up until interrupted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../src/chain/anvil.js';
import { CLI_ENTRY, ROOT, runCli, tempDir } from '../helpers/cli.js';

import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { waitUntil } from '../helpers/wait.js';

const skip = requires('sealwork dev', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('sealwork dev', { skip }, () => {
  it('--exit-after-demo runs the whole story and exits 0 with the decrypted result; again on the same home; 8545 taken → another port', async () => {
    const t = tempDir('sealwork-dev-');
    // Something else listens on 8545 (as another home's chain would): dev must not talk to it.
    const blocker = createServer();
    const blocked = await new Promise<boolean>((r) => {
      blocker.once('error', () => r(false)); // already taken by someone else: just as good
      blocker.listen(8545, '127.0.0.1', () => r(true));
    });
    const runDemo = async (extra: string[]) => {
      const r = await runCli(['--home', t.dir, '--json', 'dev', '--exit-after-demo', ...extra], {
        timeoutMs: 90_000,
      });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const j = JSON.parse(r.stdout) as {
        ok: boolean;
        result: string;
        stack: { chainUrl: string };
        notices: string[];
        steps: { step: string; detail: string }[];
        verified: { ok: boolean; simulated: boolean; links: { name: string; ok: boolean }[] };
      };
      assert.equal(j.ok, true);
      // The demo ends with `task verify` passing, every link narrated.
      assert.equal(j.verified.ok, true);
      assert.ok(j.verified.links.length >= 10 && j.verified.links.every((l) => l.ok));
      assert.equal(j.steps.at(-1)?.step, 'verify');
      assert.match(j.steps.at(-1)!.detail, /VERIFIED: .*SIMULATED/);
      assert.match(j.result, /^patients: 100\nmean glucose: 123\.2 mg\/dL\n/);
      const rec = JSON.parse(readFileSync(join(t.dir, 'chain', 'embedded.json'), 'utf8')) as { pid: number };
      assert.equal(alive(rec.pid), false, 'the embedded chain started by dev is stopped');
      assert.equal(existsSync(join(t.dir, 'stack.json')), false);
      return j;
    };
    try {
      // 1. Fresh home, default port taken: a free port is used, and said so.
      const first = await runDemo([]);
      assert.doesNotMatch(first.stack.chainUrl, /:8545$/);
      // (When another program held 8545 before the test, it may have let it go meanwhile.)
      if (blocked)
        assert.match(
          first.notices.join('\n'),
          /port 8545 is in use by another program: the embedded chain uses port \d+/,
        );
      const steps = first.steps.map((s) => s.step);
      for (const s of ['app', 'dataset', 'requester', 'deal', 'task', 'result'])
        assert.ok(steps.includes(s), s);
      // Distinct dev accounts narrate their parts.
      const text = first.steps.map((s) => s.detail).join('\n');
      for (const who of ['[app-dev', '[dataset-owner', '[requester', '[workerpool]'])
        assert.ok(text.includes(who), who);
      // The decrypted result, the requester's key, the journal (authorization signatures) and
      // sms.db (with their -wal/-shm) are 0600, in 0700 folders.
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      const [run] = readdirSync(join(t.dir, 'demo'));
      const runDir = join(t.dir, 'demo', run!);
      assert.equal(mode(runDir), '700');
      assert.equal(mode(join(runDir, 'result')), '700');
      for (const f of readdirSync(join(runDir, 'result')))
        assert.equal(mode(join(runDir, 'result', f)), '600', f);
      assert.equal(mode(join(runDir, 'result', 'result.txt')), '600');
      for (const db of [join(t.dir, 'worker', 'journal.db'), join(t.dir, 'sms', 'sms.db')])
        for (const p of [db, `${db}-wal`, `${db}-shm`].filter((x) => existsSync(x)))
          assert.equal(mode(p), '600', p);
      assert.equal(mode(join(t.dir, 'worker')), '700');
      // 2. A taken port asked for explicitly: a clear error, nothing started.
      const other = createServer();
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
      const takenPort = (other.address() as AddressInfo).port;
      const taken = await runCli(['--home', t.dir, '--json', 'dev', '--chain-port', String(takenPort)], {
        timeoutMs: 30_000,
      });
      other.close();
      assert.equal(taken.code, 1, taken.stdout);
      assert.equal((JSON.parse(taken.stdout) as { error: { code: string } }).error.code, 'CHAIN_PORT_IN_USE');
      // 3. The same home again, its chain state wiped (a fresh chain under an existing home, whose
      // worker journal remembers blocks of the old one): the demo still runs through.
      rmSync(join(t.dir, 'chain', 'anvil-state.json'), { force: true });
      await runDemo(['--chain-port', String(await freePort())]);
    } finally {
      if (blocked) blocker.close();
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
      await waitUntil(() => existsSync(join(t.dir, 'stack.json')), 'sealwork dev to write stack.json');
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
