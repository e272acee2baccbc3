/**
 * End-to-end figures of the whole stack (real anvil, SMS over HTTPS, storage, simulated quotes,
 * bubblewrap enclaves):
 *  1. latency of one hello-world TEE task, from `app run` to the decrypted result (target ≤ 3 s);
 *  2. throughput of a 100-task bag, in tasks/s (target ≥ 5 tasks/s on 2 cores).
 * Run: node --import tsx bench/e2e.ts [--tasks 100] [--slots 4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deploySampleApp, setupResultKey } from '../src/sdk/stack/demo.js';
import { startStack } from '../src/sdk/stack/index.js';
import { downloadResult, runApp, showTask, watchTask } from '../src/sdk/worker/requester.js';
import { startTestChain } from '../test/helpers/chain.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const TASKS = arg('tasks', 100);
const SLOTS = arg('slots', 4);

const HELLO = `#!/bin/sh
echo "hello from the enclave" > "$IEXEC_OUT/result.txt"
printf '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$IEXEC_OUT/computed.json"
`;

const home = mkdtempSync(join(tmpdir(), 'sealwork-bench-e2e-'));
const chain = await startTestChain({ home });
const stack = await startStack({ home, chainUrl: chain.url, slots: SLOTS });
try {
  const access = { home, chainUrl: chain.url };
  const app = await deploySampleApp(stack, { dir: join(home, 'apps'), script: HELLO });
  const keys = await setupResultKey(stack, { dir: join(home, 'keys') });

  // Warm-up (first enclave start, caches).
  const w = await runApp({ ...access, as: 'requester', app: app.app, workerpool: stack.workerpool });
  await watchTask({ ...access, taskId: w.taskIds[0]!, pollMs: 20 });

  const lat: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await runApp({
      ...access,
      as: 'requester',
      app: app.app,
      workerpool: stack.workerpool,
      encryptResult: true,
    });
    const done = await watchTask({ ...access, taskId: r.taskIds[0]!, pollMs: 20 });
    if (done.status !== 'COMPLETED') throw new Error(`task failed: ${JSON.stringify(done.worker)}`);
    const dl = await downloadResult({
      ...access,
      taskId: r.taskIds[0]!,
      decrypt: true,
      keyFile: keys.privateKeyFile,
      out: join(home, `lat-${i}`),
    });
    if (!dl.files.some((f) => f.endsWith('result.txt'))) throw new Error('no result.txt');
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  console.log(
    `latency, one hello-world TEE task (app run → decrypted result): median ${(lat[1]! / 1000).toFixed(2)} s ` +
      `(min ${(lat[0]! / 1000).toFixed(2)}, max ${(lat[2]! / 1000).toFixed(2)}; target ≤ 3 s)`,
  );

  const t0 = performance.now();
  const bag = await runApp({
    ...access,
    as: 'requester',
    app: app.app,
    workerpool: stack.workerpool,
    volume: TASKS,
  });
  // Progress from the worker's journal (cheap), then every task checked on chain.
  const journal = stack.worker!.journal;
  const ids = new Set(bag.taskIds.map((t) => t.toLowerCase()));
  while (true) {
    const recs = journal.list().filter((t) => ids.has(t.taskId));
    const failed = recs.filter((t) => t.step === 'failed');
    if (failed.length)
      throw new Error(`${failed.length} task(s) failed: ${JSON.stringify(failed[0]!.cause)}`);
    if (recs.filter((t) => t.step === 'completed').length === TASKS) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const infos = await Promise.all(bag.taskIds.map((taskId) => showTask({ ...access, taskId })));
  if (infos.some((x) => x.status !== 'COMPLETED')) throw new Error('a task is not COMPLETED on chain');
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `throughput, ${TASKS}-task bag with ${SLOTS} slots: ${(TASKS / secs).toFixed(2)} tasks/s (${secs.toFixed(1)} s; target ≥ 5 tasks/s on 2 cores)`,
  );
} finally {
  await stack.stop();
  await chain.stop();
  rmSync(home, { recursive: true, force: true });
}
