/**
 * A worker killed (SIGKILL) in the middle of a task resumes it after restart: the task completes
 * once, nothing is lost, no step is done twice; and the other recovery paths of the worker: a
 * `contributeAndFinalize` sent but not mined (dropped, or mined after the restart while a resend
 * races it), runs interrupted until the retries are exhausted, a task found COMPLETED or FAILED on
 * chain at resume, `--publish-order`, a bag over several slots. The worker runs as a real
 * `sealwork worker start` process; chain, SMS and storage are the test stack's. Every wait is for a
 * marker (a worker event, the journal hook's file, the app's own `.started` file), never a fixed
 * sleep.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getContractEvents } from 'viem/actions';
import type { Address, Hex } from 'viem';
import {
  claimTask,
  createWorkerpool,
  devAccountByName,
  listOrders,
  readTask,
  TaskStatus,
  type Task,
} from '../../src/chain/index.js';
import { hubAbi } from '../../src/chain/generated/hub.js';
import { createChainClientsFor } from '../../src/sdk/stack/index.js';
import { deploySampleApp, deploySampleDataset } from '../../src/sdk/stack/demo.js';
import { runApp, watchTask } from '../../src/sdk/worker/requester.js';
import { TaskJournal, type TaskRecord } from '../../src/worker/journal.js';
import { runCli, tempDir } from '../helpers/cli.js';

import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import {
  appStarted,
  HANDSHAKE_APP_SCRIPT,
  releaseApp,
  runFoldersOf,
  startWorkerProcess as startProc,
  waitUntil,
  type WorkerProc,
} from '../helpers/worker-proc.js';

const skip = requires('worker crash recovery', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

describe('worker crash recovery', { skip }, () => {
  let s: TestStack;
  /** The handshake app: it runs until the test lets it go (so a kill lands while it runs). */
  let app: Address;
  let dataset: Address;
  /** The sample app, for the paths where the app's run does not matter. */
  let fast: Address;
  const backups = tempDir('sealwork-journal-backup-');
  const journalPath = () => join(s.home, 'worker', 'journal.db');
  const journal = <T>(f: (j: TaskJournal) => T): T => {
    const j = TaskJournal.open(journalPath());
    try {
      return f(j);
    } finally {
      j.close();
    }
  };
  const record = (taskId: string): TaskRecord => journal((j) => j.get(taskId)!);
  const steps = (taskId: string) => journal((j) => j.history(taskId).map((h) => h.step));
  const chainTask = (taskId: Hex): Promise<Task> => {
    const c = s.stack.chain.clients;
    return readTask(c.publicClient, c.deployment.hub, taskId);
  };
  const contributions = async (taskId: Hex) => {
    const c = s.stack.chain.clients;
    const logs = await getContractEvents(c.publicClient, {
      address: c.deployment.hub,
      abi: hubAbi,
      eventName: 'TaskContribute',
      fromBlock: 0n,
    });
    return logs.filter((l) => (l.args as { taskid?: Hex }).taskid?.toLowerCase() === taskId.toLowerCase())
      .length;
  };
  const start = (env: NodeJS.ProcessEnv = {}, args: string[] = [], workerpool = s.stack.workerpool) =>
    startProc({ home: s.home, chainUrl: s.stack.chain.url, workerpool, env, args });
  /** Start a worker that freezes at `point` (the journal's test hook), wait for it there, kill -9 it. */
  const killAt = async (point: string): Promise<string> => {
    const name = point.split(':')[0]!;
    const w = start({ SEALWORK_TEST_PAUSE_AT: point });
    try {
      return await w.waitPaused(name);
    } finally {
      await w.stop('SIGKILL');
      rmSync(join(s.home, 'worker', `test-paused-${name}`), { force: true });
    }
  };
  const request = async (
    p: { app?: Address; dataset?: Address; workerpool?: Address; volume?: number } = {},
  ) =>
    (
      await runApp({
        home: s.home,
        chainUrl: s.stack.chain.url,
        as: 'requester',
        app: p.app ?? fast,
        ...(p.dataset ? { dataset: p.dataset } : {}),
        workerpool: p.workerpool ?? s.stack.workerpool,
        ...(p.volume ? { volume: p.volume } : {}),
      })
    ).taskIds;
  const completed = (taskId: Hex) =>
    watchTask({ home: s.home, chainUrl: s.stack.chain.url, taskId, timeoutMs: 90_000, pollMs: 100 });
  /** Copy the journal's files (the state a killed worker left) to `name`; `restore` puts them back. */
  const backup = (name: string) => {
    const dir = join(backups.dir, name);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(join(s.home, 'worker')).filter((n) => n.startsWith('journal.db')))
      copyFileSync(join(s.home, 'worker', f), join(dir, f));
  };
  const restore = (name: string) => {
    for (const f of readdirSync(join(s.home, 'worker')).filter((n) => n.startsWith('journal.db')))
      rmSync(join(s.home, 'worker', f));
    for (const f of readdirSync(join(backups.dir, name)))
      copyFileSync(join(backups.dir, name, f), join(s.home, 'worker', f));
  };

  before(async () => {
    s = await startTestStack({ runWorker: false });
    const dir = join(s.home, 'apps');
    app = (await deploySampleApp(s.stack, { dir, name: 'handshake-app', script: HANDSHAKE_APP_SCRIPT })).app;
    dataset = (await deploySampleDataset(s.stack, { restrictApp: app })).dataset;
    fast = (await deploySampleApp(s.stack, { dir, name: 'fast-app' })).app;
  });
  after(async () => {
    await s?.stop();
    backups.cleanup();
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
    const w = start();
    const lock = join(s.home, 'worker', 'worker.pid');
    try {
      await waitUntil(() => existsSync(lock), 'the worker lock file');
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
    const w0 = start();
    let w1: WorkerProc | undefined;
    try {
      const [taskId] = await request({ app, dataset });
      // A clean stop (SIGTERM) while the app runs: the run is aborted and not counted as an attempt.
      await appStarted(w0.pid);
      await w0.stop('SIGTERM');
      const rec0 = record(taskId!);
      assert.equal(rec0.step, 'initialized');
      assert.equal(rec0.attempts, 0);
      w1 = start();
      await appStarted(w1.pid);
      const w1pid = w1.pid;
      await w1.stop('SIGKILL');
      // The killed run left its memory folder (decrypted dataset) and its output folder behind…
      const scratch = () => readdirSync(join(s.home, 'worker', 'tmp')).filter((n) => n.startsWith('out-'));
      assert.ok(runFoldersOf(w1pid).length > 0, 'a killed run leaves its folder until the next start');
      assert.ok(scratch().length > 0);
      // Killed inside the enclave run: the journal says initialized (one attempt), the chain ACTIVE.
      const rec = record(taskId!);
      assert.equal(rec.step, 'initialized');
      assert.equal(rec.attempts, 1);
      assert.equal((await chainTask(taskId!)).status, TaskStatus.ACTIVE);

      const w2 = start();
      try {
        await releaseApp(w2.pid);
        const done = await completed(taskId!);
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.worker));
        await w2.waitFor('completed', taskId!);
        // …which the restarted worker swept: nothing of the killed run remains.
        assert.deepEqual(runFoldersOf(w1pid), []);
        assert.deepEqual(scratch(), []);
        // Not initialized again after the restart, contributed exactly once.
        assert.ok(!w2.events.some((e) => e.kind === 'initialized' && e.taskId === taskId));
        assert.equal((await chainTask(taskId!)).contributors.length, 1);
      } finally {
        await w2.stop();
      }
      const final = record(taskId!);
      assert.equal(final.step, 'completed');
      assert.equal(final.attempts, 2);
      assert.deepEqual(steps(taskId!), [
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
    const [taskId] = await request();
    assert.equal(await killAt('computed'), taskId!.toLowerCase());
    const w2 = start();
    try {
      const done = await completed(taskId!);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.worker));
      assert.equal((await chainTask(taskId!)).contributors.length, 1);
      // The app never ran again: the signed result was resumed from the journal.
      await w2.waitFor('completed', taskId!);
      assert.ok(!w2.events.some((e) => e.kind === 'computing' && e.taskId === taskId));
    } finally {
      await w2.stop();
    }
    const rec = record(taskId!);
    assert.equal(rec.step, 'completed');
    assert.equal(rec.attempts, 1);
  });

  /** Kill at `computed`, then send the contribution with mining off and kill once it is journaled. */
  const sentNotMined = async (): Promise<{ taskId: Hex; txHash: Hex }> => {
    const [taskId] = await request();
    await killAt('computed');
    await s.chain.rpc('evm_setAutomine', [false]);
    try {
      await killAt('contributing');
    } catch (e) {
      await s.chain.rpc('evm_setAutomine', [true]);
      throw e;
    }
    const rec = record(taskId!);
    assert.equal(rec.step, 'contributing');
    assert.match(rec.txHash ?? '', /^0x[0-9a-f]{64}$/);
    // Sent, not mined: the node holds it in its pool (no block), the task is still ACTIVE.
    const tx = (await s.chain.rpc('eth_getTransactionByHash', [rec.txHash])) as {
      blockNumber: string | null;
    };
    assert.equal(tx.blockNumber, null);
    assert.equal((await chainTask(taskId!)).status, TaskStatus.ACTIVE);
    return { taskId: taskId!, txHash: rec.txHash! };
  };

  it('contributeAndFinalize sent but never mined (dropped from the node): sent again after restart, completed once', async () => {
    const { taskId, txHash } = await sentNotMined();
    await s.chain.rpc('anvil_dropTransaction', [txHash]);
    assert.equal(await s.chain.rpc('eth_getTransactionByHash', [txHash]), null, 'dropped');
    await s.chain.rpc('evm_setAutomine', [true]);
    const w = start();
    try {
      const done = await completed(taskId);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.worker));
    } finally {
      await w.stop();
    }
    assert.equal(await contributions(taskId), 1);
    assert.deepEqual(steps(taskId).slice(-5), [
      'computed',
      'contributing',
      'computed',
      'contributing',
      'completed',
    ]);
    // Sent again (the same nonce, freed by the drop: on an unchanged chain, the same bytes).
    const mined = (await s.chain.rpc('eth_getTransactionByHash', [record(taskId).txHash])) as {
      blockNumber: string | null;
    };
    assert.notEqual(mined.blockNumber, null);
  });

  it('contributeAndFinalize sent, mined after the kill: the restarted worker finds it COMPLETED and sends nothing', async () => {
    const { taskId, txHash } = await sentNotMined();
    await s.chain.rpc('evm_mine', []);
    await s.chain.rpc('evm_setAutomine', [true]);
    const tx = (await s.chain.rpc('eth_getTransactionByHash', [txHash])) as { blockNumber: string | null };
    assert.notEqual(tx.blockNumber, null);
    const w = start();
    try {
      await w.waitFor('completed', taskId);
      assert.ok(!w.events.some((e) => e.kind === 'contributing' && e.taskId === taskId));
    } finally {
      await w.stop();
    }
    assert.deepEqual(steps(taskId).slice(-3), ['computed', 'contributing', 'completed']);
    assert.equal(record(taskId).txHash, txHash);
    assert.equal(await contributions(taskId), 1);
  });

  it('a run interrupted three times exhausts the retries: FAILED with TASK_RETRIES_EXHAUSTED, journaled', async () => {
    const [taskId] = await request();
    for (let i = 1; i <= 3; i++) {
      await killAt('attempt');
      assert.equal(record(taskId!).attempts, i);
    }
    const w = start();
    try {
      const failed = await w.waitFor('failed', taskId!);
      assert.equal(failed.cause?.code, 'TASK_RETRIES_EXHAUSTED');
      assert.ok(!w.events.some((e) => e.kind === 'computing' && e.taskId === taskId));
    } finally {
      await w.stop();
    }
    const rec = record(taskId!);
    assert.equal(rec.step, 'failed');
    assert.deepEqual(rec.cause, {
      code: 'TASK_RETRIES_EXHAUSTED',
      message: 'The enclave run was interrupted 3 times; giving up.',
    });
    assert.equal((await chainTask(taskId!)).status, TaskStatus.ACTIVE);
  });

  it('a task found COMPLETED on chain at resume (journal restored from a backup) is journaled completed, never run again', async () => {
    const [taskId] = await request();
    await killAt('pending');
    backup('pending');
    await killAt('initialized');
    backup('initialized');
    const w = start();
    try {
      assert.equal((await completed(taskId!)).status, 'COMPLETED');
    } finally {
      await w.stop();
    }
    for (const at of ['initialized', 'pending']) {
      restore(at);
      assert.equal(record(taskId!).step, at);
      const again = start();
      try {
        const e = await again.waitFor('completed', taskId!);
        assert.equal(e.detail, 'already completed on chain');
        assert.ok(!again.events.some((x) => x.taskId === taskId && x.kind !== 'completed'), at);
      } finally {
        await again.stop();
      }
      assert.equal(record(taskId!).step, 'completed');
    }
    assert.equal(await contributions(taskId!), 1);
  });

  it('--publish-order publishes an open order once; a bag of 3 runs on 2 slots, never more at a time', async () => {
    const owner = devAccountByName('workerpool');
    const c = await createChainClientsFor(s.home, s.stack.chain.url, owner);
    const { address: pool } = await createWorkerpool(
      { publicClient: c.publicClient, walletClient: c.walletClient, deployment: c.deployment },
      { description: 'publish-order pool' },
    );
    const open = () => listOrders(c.publicClient, c.deployment, { kind: 'workerpool', workerpool: pool });
    assert.deepEqual(await open(), []);
    // The worker takes its home's lock after publishing (or not) the order: the lock file naming
    // its pid is the marker that the start-up is past that point.
    const serving = (w: WorkerProc) =>
      waitUntil(() => {
        try {
          return readFileSync(join(s.home, 'worker', 'worker.pid'), 'utf8').trim() === String(w.pid);
        } catch {
          return false;
        }
      }, 'the worker lock naming the new worker');
    const w = start({}, ['--publish-order', '4', '--slots', '2'], pool);
    let taskIds: Hex[] = [];
    try {
      await serving(w);
      const orders = await open();
      assert.equal(orders.length, 1);
      assert.equal(orders[0]!.kind === 'workerpool' && orders[0]!.order.volume, 4n);
      taskIds = await request({ workerpool: pool, volume: 3 });
      for (const id of taskIds) assert.equal((await completed(id)).status, 'COMPLETED');
      // Never more runs at a time than slots: computing … computed brackets a run.
      let running = 0;
      let most = 0;
      for (const e of w.events) {
        if (e.kind === 'computing') most = Math.max(most, ++running);
        if (e.kind === 'computed' || e.kind === 'failed') running--;
      }
      assert.ok(most >= 1 && most <= 2, `at most 2 runs at a time, saw ${most}`);
    } finally {
      await w.stop();
    }
    // Restarted with the same option while that order still has volume left: nothing new published.
    const w2 = start({}, ['--publish-order', '4'], pool);
    try {
      await serving(w2);
    } finally {
      await w2.stop();
    }
    const after = await open();
    assert.equal(after.length, 1);
    assert.equal(after[0]!.remaining, 1n);
  });

  // Last: it moves the chain clock past every deadline.
  it('a task found FAILED (claimed) on chain at resume: journaled failed then claimed, from either step, never run', async () => {
    const [taskId] = await request();
    await killAt('pending');
    backup('claim-pending');
    await killAt('initialized');
    await s.chain.increaseTime(3001);
    const requester = await createChainClientsFor(s.home, s.stack.chain.url, devAccountByName('requester'));
    await claimTask(
      {
        publicClient: requester.publicClient,
        walletClient: requester.walletClient,
        deployment: requester.deployment,
      },
      taskId!,
    );
    assert.equal((await chainTask(taskId!)).status, TaskStatus.FAILED);
    // Journaled initialized: the chain says FAILED → failed (TASK_NOT_ACTIVE), then claimed.
    const w = start();
    try {
      await waitUntil(() => record(taskId!).step === 'claimed', 'the task claimed in the journal');
      assert.ok(!w.events.some((e) => e.kind === 'computing' && e.taskId === taskId));
    } finally {
      await w.stop();
    }
    assert.equal(record(taskId!).cause?.code, 'TASK_NOT_ACTIVE');
    // Journaled pending (a backup): → claimed with TASK_FAILED_ON_CHAIN.
    restore('claim-pending');
    const w2 = start();
    try {
      await waitUntil(() => record(taskId!).step === 'claimed', 'the task claimed in the journal');
    } finally {
      await w2.stop();
    }
    assert.equal(record(taskId!).cause?.code, 'TASK_FAILED_ON_CHAIN');
    assert.equal(await contributions(taskId!), 0);
  });
});
