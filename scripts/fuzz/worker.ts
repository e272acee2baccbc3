/**
 * One fuzz target in a worker thread (see scripts/fuzz.ts): sets the target up, then feeds it
 * inputs `from`..`to`. Before each input it publishes the input and its index in shared memory,
 * so the driver can save the input if this thread stops making progress (a hang). A crash — an
 * exception that is not a SealworkError — is saved here with its stack, and the run goes on.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { rng } from './mutate.js';
import { TARGETS } from './targets.js';

export interface WorkerData {
  target: string;
  from: number;
  to: number;
  seed: number;
  tmp: string;
  simHome: string;
  outDir: string;
  /** Int32Array: [0] index of the current input, [1] its length, [2] 1 while it runs, [3] inputs done. */
  progress: SharedArrayBuffer;
  /** The current input's bytes (cut at the buffer's size). */
  input: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'ready'; setupMs: number }
  | { type: 'child'; pid: number }
  | { type: 'crash'; index: number; file: string; error: string }
  | { type: 'done' };

const d = workerData as WorkerData;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const progress = new Int32Array(d.progress);
const shared = new Uint8Array(d.input);

const target = TARGETS.find((t) => t.name === d.target);
if (!target) throw new Error(`no fuzz target ${d.target}`);
const t0 = performance.now();
const h = await target.setup({
  tmp: d.tmp,
  simHome: d.simHome,
  onChild: (pid) => post({ type: 'child', pid }),
});
post({ type: 'ready', setupMs: performance.now() - t0 });

// One generator per start index: a restarted worker (after a hang) does not replay the inputs before it.
const r = rng((d.seed ^ Math.imul(d.from + 1, 0x9e3779b1)) >>> 0);
for (let i = d.from; i < d.to; i++) {
  const input = h.next(r);
  shared.set(input.subarray(0, shared.length));
  Atomics.store(progress, 1, input.length);
  Atomics.store(progress, 0, i);
  Atomics.store(progress, 2, 1);
  try {
    await h.run(input);
  } catch (e) {
    const file = join(d.outDir, `${d.target}-crash-${i}.${target.ext}`);
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    writeFileSync(file, input);
    writeFileSync(`${file}.txt`, `${error}\n`);
    post({ type: 'crash', index: i, file, error: error.split('\n').slice(0, 3).join(' | ').slice(0, 300) });
  }
  Atomics.store(progress, 2, 0);
  Atomics.add(progress, 3, 1);
}
await h.close?.();
post({ type: 'done' });
