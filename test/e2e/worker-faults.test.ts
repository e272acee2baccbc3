/**
 * Faults under load, on real parts (anvil, the SMS, the storage, bubblewrap) with the worker as a
 * real `sealwork worker start` child process:
 *   - kill -9 at each journal step while it runs a bag of 10 tasks, then a restart: every task ends
 *     COMPLETED exactly once (one contribution, one finalize on chain), no result is lost, no
 *     plaintext is left behind;
 *   - anvil killed and restarted from its saved state under the worker: the worker says it waits
 *     (CHAIN_UNREACHABLE), resumes, and its tasks complete.
 * The kills land at precise steps through the test-only `SEALWORK_TEST_PAUSE_AT` hook of the
 * journal (src/worker/journal.ts): the worker freezes right after committing that step and writes
 * a marker file; the test waits for the marker, never for a fixed time.
 */
import assert from 'node:assert/strict';
import { promises as fs, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getContractEvents } from 'viem/actions';
import type { Address, Hex } from 'viem';
import { readTask, TaskStatus } from '../../src/chain/index.js';
import { hubAbi } from '../../src/chain/generated/hub.js';
import { deploySampleApp, deploySampleDataset, setupResultKey } from '../../src/sdk/stack/demo.js';
import { downloadResult, runApp } from '../../src/sdk/worker/requester.js';
import { TaskJournal, type TaskRecord } from '../../src/worker/journal.js';
import { tempDir } from '../helpers/cli.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { runFoldersOf, startWorkerProcess, waitUntil, type WorkerProc } from '../helpers/worker-proc.js';

const skip = requires('worker faults under load', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

const DATASET_PLAINTEXT = Buffer.from('patient,age,glucose');
const RESULT_PLAINTEXT = Buffer.from('mean glucose: 123.2');

/** Every regular file under `dir` (links not followed) that contains one of `needles`. */
async function filesHolding(dir: string, needles: Buffer[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const data = await fs.readFile(p);
        if (needles.some((n) => data.includes(n))) found.push(p);
      }
    }
  };
  await walk(dir);
  return found;
}

describe('worker faults under load', { skip }, () => {
  let s: TestStack;
  let app: Address;
  let dataset: Address;
  let keys: { privateKeyFile: string };
  const pids: number[] = [];
  const out = tempDir('sealwork-faults-out-');

  const journal = <T>(f: (j: TaskJournal) => T): T => {
    const j = TaskJournal.open(join(s.home, 'worker', 'journal.db'));
    try {
      return f(j);
    } finally {
      j.close();
    }
  };
  const start = (env: NodeJS.ProcessEnv = {}): WorkerProc => {
    const w = startWorkerProcess({
      home: s.home,
      chainUrl: s.stack.chain.url,
      workerpool: s.stack.workerpool,
      args: ['--slots', '2'],
      env,
    });
    pids.push(w.pid);
    return w;
  };
  const status = async (taskId: Hex) => {
    const c = s.stack.chain.clients;
    return readTask(c.publicClient, c.deployment.hub, taskId);
  };
  const bag = (volume: number) =>
    runApp({
      home: s.home,
      chainUrl: s.stack.chain.url,
      as: 'requester',
      app,
      dataset,
      workerpool: s.stack.workerpool,
      volume,
      encryptResult: true,
    });
  /** What the journal says of each task (for a failure message). */
  const journalState = (taskIds: Hex[]) =>
    journal((j) =>
      taskIds.map((id) => {
        const t = j.get(id);
        return `${id.slice(0, 10)} ${t?.step} attempts=${t?.attempts}${t?.cause ? ` ${t.cause.code}` : ''}`;
      }),
    ).join('; ');
  /**
   * Resolves when every task is final in the journal: completed (and COMPLETED on chain), or
   * failed with a cause.
   */
  const allFinal = (taskIds: Hex[], w: WorkerProc) =>
    waitUntil(
      async () => {
        const recs = journal((j) => taskIds.map((id) => j.get(id)));
        if (!recs.every((t) => t?.step === 'completed' || (t?.step === 'failed' && t.cause))) return false;
        const st = await Promise.all(taskIds.map(status));
        return recs.every((t, i) => t?.step === 'failed' || st[i]!.status === TaskStatus.COMPLETED);
      },
      `every task completed or failed; journal: ${journalState(taskIds)}; worker stderr: ${w.stderr().slice(-1500)}`,
      240_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; journal now: ${journalState(taskIds)}`);
    });
  /** Resolves when every task is COMPLETED on chain and journaled as completed. */
  const allCompleted = async (taskIds: Hex[], w: WorkerProc) => {
    await allFinal(taskIds, w);
    const failed = journal((j) => taskIds.filter((id) => j.get(id)?.step !== 'completed'));
    assert.deepEqual(failed, [], `failed: ${journalState(taskIds)}`);
  };
  /** The hub's TaskContribute and TaskFinalize logs, counted per task. */
  const hubLogs = async (taskIds: Hex[]) => {
    const c = s.stack.chain.clients;
    const count = async (eventName: 'TaskContribute' | 'TaskFinalize') => {
      const logs = await getContractEvents(c.publicClient, {
        address: c.deployment.hub,
        abi: hubAbi,
        eventName,
        fromBlock: 0n,
      });
      return taskIds.map(
        (id) =>
          logs.filter((l) => (l.args as { taskid?: Hex }).taskid?.toLowerCase() === id.toLowerCase()).length,
      );
    };
    return { contribute: await count('TaskContribute'), finalize: await count('TaskFinalize') };
  };
  /** Each result downloads and decrypts with the beneficiary key to the app's output. */
  const resultsDecrypt = async (taskIds: Hex[], tag: string) => {
    for (const [i, taskId] of taskIds.entries()) {
      const dir = join(out.dir, `${tag}-${i}`);
      const r = await downloadResult({
        home: s.home,
        chainUrl: s.stack.chain.url,
        taskId,
        decrypt: true,
        keyFile: keys.privateKeyFile,
        out: dir,
      });
      assert.equal(r.encrypted, true);
      const text = await fs.readFile(join(dir, 'result.txt'), 'utf8');
      assert.match(text, /^patients: 100\nmean glucose: 123\.2 mg\/dL\nat or above 126 mg\/dL: 47\n$/);
    }
  };

  before(async () => {
    s = await startTestStack({ runWorker: false });
    app = (await deploySampleApp(s.stack, { dir: join(s.home, 'apps') })).app;
    dataset = (await deploySampleDataset(s.stack, { restrictApp: app })).dataset;
    keys = await setupResultKey(s.stack, { dir: join(s.home, 'keys') });
  });
  after(async () => {
    await s?.stop();
    out.cleanup();
  });

  it('kill -9 at each journal step of a bag of 10 tasks on 2 slots, then restart: each task COMPLETED exactly once or FAILED with its cause, every result there, no plaintext left', async () => {
    const r = await bag(10);
    const taskIds = r.taskIds;
    assert.equal(taskIds.length, 10);
    // Each point: the worker freezes right after committing that journal write (the n-th of
    // the run), and is killed there. `pending:4`: in the middle of journaling the deal's tasks,
    // before the scan cursor moved; `attempt`: an enclave run counted, not yet started (other
    // slots' runs may be under way); `contributing`: the transaction sent (and mined), not yet
    // journaled as completed.
    const points = ['pending:4', 'initialized:2', 'attempt:2', 'computed:2', 'contributing:2', 'completed:2'];
    const killedAt: { point: string; taskId: string; step: string }[] = [];
    for (const spec of points) {
      const point = spec.split(':')[0]!;
      const w = start({ SEALWORK_TEST_PAUSE_AT: spec });
      try {
        const taskId = await w.waitPaused(point);
        const rec = journal((j) => j.get(taskId));
        killedAt.push({ point, taskId, step: rec?.step ?? 'none' });
      } finally {
        await w.stop('SIGKILL');
        rmSync(join(s.home, 'worker', `test-paused-${point}`), { force: true });
      }
    }
    // Each kill landed where it was aimed: the journal holds the step the worker froze after.
    const stepOf = (point: string) => (point === 'attempt' ? 'initialized' : point);
    for (const k of killedAt) assert.equal(k.step, stepOf(k.point), JSON.stringify(k));

    const w = start();
    try {
      await allFinal(taskIds, w);
    } finally {
      await w.stop();
    }
    // Each task COMPLETED exactly once (one contributor, one TaskContribute, one TaskFinalize, one
    // `completed` in its history), or FAILED with a cause: the only failure these kills can cause
    // is a task whose enclave run was interrupted by three of them (TASK_RETRIES_EXHAUSTED; a
    // kill lands while the other slot's run is under way), which then never reached the chain.
    const recs: TaskRecord[] = journal((j) => taskIds.map((id) => j.get(id)!));
    const done = taskIds.filter((_, i) => recs[i]!.step === 'completed');
    const failed = recs.filter((t) => t.step !== 'completed');
    for (const t of failed) {
      assert.equal(t.step, 'failed');
      assert.deepEqual(t.cause, {
        code: 'TASK_RETRIES_EXHAUSTED',
        message: 'The enclave run was interrupted 3 times; giving up.',
      });
    }
    assert.ok(done.length >= 5, `completed: ${done.length} of 10 (${journalState(taskIds)})`);
    const logs = await hubLogs(taskIds);
    for (const [i, id] of taskIds.entries()) {
      const completed = recs[i]!.step === 'completed';
      const t = await status(id);
      assert.equal(t.status, completed ? TaskStatus.COMPLETED : TaskStatus.ACTIVE);
      assert.equal(t.contributors.length, completed ? 1 : 0);
      assert.equal(logs.contribute[i], completed ? 1 : 0);
      assert.equal(logs.finalize[i], completed ? 1 : 0);
      const h = journal((j) => j.history(id).map((x) => x.step));
      assert.equal(h.filter((x) => x === 'completed').length, completed ? 1 : 0, h.join(' '));
      assert.equal(h.filter((x) => x === 'failed').length, completed ? 0 : 1, h.join(' '));
    }
    // No plaintext behind: no run folder of any of the worker processes, no scratch output, and
    // no file of the home holds the dataset or the result in clear (the results are encrypted).
    for (const pid of pids) assert.deepEqual(runFoldersOf(pid), [], `run folders of ${pid}`);
    assert.deepEqual(
      readdirSync(join(s.home, 'worker', 'tmp')).filter((n) => n.startsWith('out-')),
      [],
    );
    assert.deepEqual(await filesHolding(s.home, [DATASET_PLAINTEXT, RESULT_PLAINTEXT]), []);
    // No result lost: each completed task's result downloads and decrypts to the app's output.
    await resultsDecrypt(done, 'kill');
  });

  it('anvil killed and restarted from its state under the worker: the worker says it waits, resumes, and the tasks complete', async () => {
    const w = start();
    let taskIds: Hex[] = [];
    try {
      const r = await bag(3);
      taskIds = r.taskIds;
      // Mid-bag: the first enclave run is under way.
      await w.waitForEvent(
        (e) => e.kind === 'computing' && r.taskIds.includes(e.taskId as Hex),
        'a computing event',
      );
      // Freeze the worker while the state is saved, so that no transaction of it falls between
      // the snapshot and the kill; it runs on while the node is gone.
      w.child.kill('SIGSTOP');
      await s.chain.killAndRestart(async () => {
        w.child.kill('SIGCONT');
        const waiting = await w.waitForEvent((e) => e.kind === 'waiting', 'a waiting event');
        assert.equal(waiting.cause?.code, 'CHAIN_UNREACHABLE');
        assert.match(waiting.cause?.message ?? '', /does not answer; the worker waits for it/);
      });
      await w.waitForEvent((e) => e.kind === 'resumed', 'a resumed event');
      await allCompleted(r.taskIds, w);
      assert.deepEqual(
        w.events.filter((e) => e.kind === 'failed'),
        [],
      );
      const logs = await hubLogs(r.taskIds);
      assert.deepEqual(logs.contribute, [1, 1, 1]);
      assert.deepEqual(logs.finalize, [1, 1, 1]);
    } finally {
      await w.stop();
    }
    await resultsDecrypt(taskIds, 'anvil');
  });

  it('the chain restarted from an older snapshot lost an initialize the worker journaled: the task is initialized again and completes', async () => {
    const [taskId] = (await bag(1)).taskIds as [Hex];
    const before = await s.chain.dumpState();
    const w = start({ SEALWORK_TEST_PAUSE_AT: 'initialized' });
    try {
      assert.equal(await w.waitPaused('initialized'), taskId.toLowerCase());
    } finally {
      await w.stop('SIGKILL');
      rmSync(join(s.home, 'worker', 'test-paused-initialized'), { force: true });
    }
    assert.equal((await status(taskId)).status, TaskStatus.ACTIVE);
    await s.chain.killAndRestart(undefined, before);
    // The node came back without the initialize; the journal still says initialized.
    assert.equal((await status(taskId)).status, TaskStatus.UNSET);
    assert.equal(
      journal((j) => j.get(taskId)?.step),
      'initialized',
    );
    const w2 = start();
    try {
      await allCompleted([taskId], w2);
      assert.ok(w2.events.some((e) => e.kind === 'initialized' && e.taskId === taskId));
    } finally {
      await w2.stop();
    }
    const h = journal((j) => j.history(taskId).map((x) => x.step));
    assert.deepEqual(h.slice(0, 4), ['pending', 'initialized', 'pending', 'initialized']);
    assert.deepEqual((await hubLogs([taskId])).finalize, [1]);
    await resultsDecrypt([taskId], 'older');
  });
});
