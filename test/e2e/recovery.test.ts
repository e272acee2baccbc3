/**
 * A worker killed (SIGKILL) in the middle of a task resumes it after restart: the task completes
 * once, nothing is lost, no step is done twice. The worker runs as a real `sealwork worker start`
 * process; chain, SMS and storage are the test stack's.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address } from 'viem';
import { readTask, TaskStatus } from '../../src/chain/index.js';
import { deploySampleApp, deploySampleDataset } from '../../src/sdk/stack/demo.js';
import { SAMPLE_APP_SCRIPT } from '../../src/sdk/stack/sample.js';
import { runApp, watchTask } from '../../src/sdk/worker/requester.js';
import { TaskJournal } from '../../src/worker/journal.js';
import { CLI_ENTRY, ROOT, runCli } from '../helpers/cli.js';

import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('worker crash recovery', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

interface WorkerProc {
  child: ChildProcess;
  events: { kind: string; taskId?: string }[];
  waitFor(kind: string, taskId: string, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function startWorkerProcess(home: string, chainUrl: string, workerpool: Address): WorkerProc {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI_ENTRY,
      '--home',
      home,
      '--json',
      'worker',
      'start',
      '--workerpool',
      workerpool,
      '--as',
      'workerpool',
      '--worker-key-as',
      'worker',
      '--app-image-root',
      join(home, 'apps'),
    ],
    { cwd: ROOT, env: { ...process.env, SEALWORK_CHAIN_URL: chainUrl }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: WorkerProc['events'] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = (JSON.parse(line) as { event?: { kind: string; taskId?: string } }).event;
        if (e) events.push(e);
      } catch {
        /* not an event line */
      }
      waiters.forEach((w) => w());
    }
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return {
    child,
    events,
    waitFor(kind, taskId, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (events.some((e) => e.kind === kind && e.taskId === taskId)) {
            clearTimeout(t);
            resolve();
          }
        };
        const t = setTimeout(
          () => reject(new Error(`no ${kind} event for ${taskId}; stderr: ${stderr.slice(-2000)}`)),
          timeoutMs,
        );
        waiters.push(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

describe('worker crash recovery', { skip }, () => {
  let s: TestStack;
  let app: Address;
  let dataset: Address;
  before(async () => {
    s = await startTestStack({ runWorker: false });
    // A slow app, so the kill lands while the enclave runs it.
    const slow = SAMPLE_APP_SCRIPT.replace('set -e', 'set -e\nsleep 2');
    app = (await deploySampleApp(s.stack, { dir: join(s.home, 'apps'), script: slow })).app;
    dataset = (await deploySampleDataset(s.stack, { restrictApp: app })).dataset;
  });
  after(async () => {
    await s?.stop();
  });

  it('refuses to serve a workerpool its wallet does not own, invalid options, and a second worker on the same home', async () => {
    const startAs = (as: string) =>
      runCli(
        ['--home', s.home, '--json', 'worker', 'start', '--workerpool', s.stack.workerpool, '--as', as],
        {
          env: { SEALWORK_CHAIN_URL: s.stack.chain.url },
          timeoutMs: 30_000,
        },
      );
    const errorCode = (out: string) => (JSON.parse(out) as { error: { code: string } }).error.code;
    const r = await startAs('requester');
    assert.equal(r.code, 1);
    assert.equal(errorCode(r.stdout), 'WORKERPOOL_NOT_OWNED');
    // Options are checked before anything starts.
    const bad = await runCli(
      ['--home', s.home, 'worker', 'start', '--workerpool', s.stack.workerpool, '--slots', 'two'],
      { env: { SEALWORK_CHAIN_URL: s.stack.chain.url }, timeoutMs: 30_000 },
    );
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^error \[WORKER_OPTIONS_INVALID\]: The number of slots \(--slots\) must be a whole number from 1 to 64\./,
    );
    // One worker per home: a second one is refused while the first runs; a clean stop frees it.
    const w = startWorkerProcess(s.home, s.stack.chain.url, s.stack.workerpool);
    const lock = join(s.home, 'worker', 'worker.pid');
    try {
      const end = Date.now() + 30_000;
      while (!existsSync(lock) && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      const second = await startAs('workerpool');
      assert.equal(second.code, 1);
      assert.equal(errorCode(second.stdout), 'WORKER_ALREADY_RUNNING');
      // `sealwork dev` on that home is refused before it starts anything.
      const dev = await runCli(['--home', s.home, '--json', 'dev', '--no-demo'], { timeoutMs: 30_000 });
      assert.equal(dev.code, 1);
      assert.equal(errorCode(dev.stdout), 'WORKER_ALREADY_RUNNING');
    } finally {
      await w.stop();
    }
    assert.equal(existsSync(lock), false);
  });

  it('a worker stopped, then killed mid-task resumes it after restart: completed once, nothing lost or done twice', async () => {
    const chainUrl = s.stack.chain.url;
    const w0 = startWorkerProcess(s.home, chainUrl, s.stack.workerpool);
    let w1: WorkerProc | undefined;
    try {
      const r = await runApp({
        home: s.home,
        chainUrl,
        as: 'requester',
        app,
        dataset,
        workerpool: s.stack.workerpool,
      });
      const taskId = r.taskIds[0]!;
      // A clean stop (SIGTERM) inside the enclave run: the run is aborted and not counted as an attempt.
      await w0.waitFor('computing', taskId);
      await new Promise((res) => setTimeout(res, 500));
      await w0.stop('SIGTERM');
      const j0 = TaskJournal.open(join(s.home, 'worker', 'journal.db'));
      const rec0 = j0.get(taskId);
      j0.close();
      assert.equal(rec0?.step, 'initialized');
      assert.equal(rec0?.attempts, 0);
      w1 = startWorkerProcess(s.home, chainUrl, s.stack.workerpool);
      await w1.waitFor('computing', taskId);
      await new Promise((res) => setTimeout(res, 700));
      const w1pid = w1.child.pid;
      await w1.stop('SIGKILL');
      // The killed run left its memory folder (decrypted dataset) and its output folder behind…
      const runsOf = (pid: number | undefined) =>
        readdirSync('/dev/shm').filter((d) => {
          try {
            return (
              d.startsWith('sealwork-run-') &&
              JSON.parse(readFileSync(join('/dev/shm', d, 'owner.json'), 'utf8')).pid === pid
            );
          } catch {
            return false;
          }
        });
      const scratch = () => readdirSync(join(s.home, 'worker', 'tmp')).filter((n) => n.startsWith('out-'));
      assert.ok(runsOf(w1pid).length > 0, 'a killed run leaves its folder until the next start');
      assert.ok(scratch().length > 0);
      // Killed inside the enclave run: the journal says initialized (one attempt), the chain ACTIVE.
      const j1 = TaskJournal.open(join(s.home, 'worker', 'journal.db'));
      const rec = j1.get(taskId);
      j1.close();
      assert.equal(rec?.step, 'initialized');
      assert.equal(rec?.attempts, 1);
      const c = s.stack.chain.clients;
      assert.equal((await readTask(c.publicClient, c.deployment.hub, taskId)).status, TaskStatus.ACTIVE);

      const w2 = startWorkerProcess(s.home, chainUrl, s.stack.workerpool);
      try {
        const done = await watchTask({ home: s.home, chainUrl, taskId, timeoutMs: 60_000, pollMs: 100 });
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.worker));
        await w2.waitFor('completed', taskId);
        // …which the restarted worker swept: nothing of the killed run remains.
        assert.deepEqual(runsOf(w1pid), []);
        assert.deepEqual(scratch(), []);
        // Not initialized again after the restart, contributed exactly once.
        assert.ok(!w2.events.some((e) => e.kind === 'initialized' && e.taskId === taskId));
        const t = await readTask(c.publicClient, c.deployment.hub, taskId);
        assert.deepEqual(t.contributors.length, 1);
      } finally {
        await w2.stop();
      }
      const j2 = TaskJournal.open(join(s.home, 'worker', 'journal.db'));
      const final = j2.get(taskId);
      const steps = j2.history(taskId).map((h) => h.step);
      j2.close();
      assert.equal(final?.step, 'completed');
      assert.equal(final?.attempts, 2);
      assert.deepEqual(steps, [
        'pending',
        'initialized',
        'initialized', // w0's run
        'initialized', // … given back by its clean stop
        'initialized', // w1's run (killed)
        'initialized', // w2's run
        'computed',
        'contributing',
        'completed',
      ]);
    } finally {
      await w0.stop('SIGKILL');
      await w1?.stop('SIGKILL');
    }
  });

  it('a worker killed right after the result is computed and signed contributes it after restart, once', async () => {
    const chainUrl = s.stack.chain.url;
    const w1 = startWorkerProcess(s.home, chainUrl, s.stack.workerpool);
    try {
      const r = await runApp({
        home: s.home,
        chainUrl,
        as: 'requester',
        app,
        dataset,
        workerpool: s.stack.workerpool,
      });
      const taskId = r.taskIds[0]!;
      await w1.waitFor('computed', taskId);
      await w1.stop('SIGKILL');
      const w2 = startWorkerProcess(s.home, chainUrl, s.stack.workerpool);
      try {
        const done = await watchTask({ home: s.home, chainUrl, taskId, timeoutMs: 60_000, pollMs: 100 });
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.worker));
        const c = s.stack.chain.clients;
        const t = await readTask(c.publicClient, c.deployment.hub, taskId);
        assert.equal(t.contributors.length, 1);
        // The app never ran again: the signed result was resumed from the journal.
        assert.ok(!w2.events.some((e) => e.kind === 'computing' && e.taskId === taskId));
      } finally {
        await w2.stop();
      }
      const j = TaskJournal.open(join(s.home, 'worker', 'journal.db'));
      const rec = j.get(taskId);
      j.close();
      assert.equal(rec?.step, 'completed');
      assert.equal(rec?.attempts, 1);
    } finally {
      await w1.stop('SIGKILL');
    }
  });
});
