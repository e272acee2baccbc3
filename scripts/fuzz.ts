/**
 * `npm run fuzz` — a long mutation fuzz run over every parser that takes outside input (kept out
 * of `npm test`): DCAP quotes, collateral JSON, certificate/CRL DER, OCI image archives, order
 * files, SMS HTTP requests. See docs/fuzz.md.
 *
 *   npm run fuzz [-- --count N] [--targets quote,der,…] [--timeout MS] [--seed N] [--jobs N] [--out DIR]
 *   npm run fuzz -- --replay FILE --targets NAME     (feed one saved input again)
 *
 * --count (default 1,000,000) is split over the targets by their weights. Each target runs in a
 * worker thread; the driver watches its progress in shared memory and, when one input runs longer
 * than --timeout (default 10 s), saves it as a hang, ends the thread (and the processes it
 * started) and goes on from the next input. Crashes (exceptions that are not SealworkErrors; for
 * the SMS, a 500) are saved by the worker with their stack. Findings go under --out (default
 * fuzz-findings/run-<time>/). Exit status 1 when anything was found.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Command, InvalidArgumentError } from 'commander';
import { isSealworkError } from '../src/errors.js';
import { TARGETS, type Target } from './fuzz/targets.js';
import type { WorkerData, WorkerMessage } from './fuzz/worker.js';
import { yardstick } from '../bench/yardstick.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const INPUT_BUFFER = 8 * 1024 * 1024;

const positive = (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

const program = new Command('fuzz')
  .option('--count <n>', 'inputs in all (split over the targets by weight)', positive, 1_000_000)
  .option('--targets <names>', `comma-separated: ${TARGETS.map((t) => t.name).join(', ')}`)
  .option('--timeout <ms>', 'an input running longer than this is a hang', positive, 10_000)
  .option('--seed <n>', 'PRNG seed', positive, 1)
  .option('--jobs <n>', 'targets run at the same time', positive, 1)
  .option('--out <dir>', 'findings folder (default fuzz-findings/run-<time>)')
  .option('--replay <file>', 'feed one saved input to the (single) target given with --targets')
  .parse();
const opts = program.opts<{
  count: number;
  targets?: string;
  timeout: number;
  seed: number;
  jobs: number;
  out?: string;
  replay?: string;
}>();

const chosen = opts.targets
  ? opts.targets.split(',').map((n) => {
      const t = TARGETS.find((x) => x.name === n.trim());
      if (!t) return program.error(`unknown target ${n}: one of ${TARGETS.map((x) => x.name).join(', ')}`);
      return t;
    })
  : TARGETS;
const findingsRoot = join(ROOT, 'fuzz-findings');
const simHome = join(findingsRoot, 'sim-platform');
mkdirSync(simHome, { recursive: true, mode: 0o700 });

if (opts.replay) {
  if (chosen.length !== 1) program.error('--replay needs exactly one target (--targets NAME)');
  process.exit(await replay(chosen[0]!, opts.replay));
}

interface Outcome {
  target: string;
  inputs: number;
  seconds: number;
  setupSeconds: number;
  crashes: { index: number; file: string; error: string }[];
  hangs: { index: number; file: string }[];
}

const outDir = resolve(
  opts.out ?? join(findingsRoot, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`),
);
mkdirSync(outDir, { recursive: true });
const totalWeight = chosen.reduce((s, t) => s + t.weight, 0);
const plan = chosen.map((t) => ({ t, n: Math.max(1, Math.floor((opts.count * t.weight) / totalWeight)) }));
plan[0]!.n += Math.max(0, opts.count - plan.reduce((s, p) => s + p.n, 0)); // exactly --count in all

console.log(`sealwork fuzz: ${opts.count} inputs, seed ${opts.seed}, per-input limit ${opts.timeout} ms`);
const machine = yardstick();
console.log(`yardstick: ${machine}`);
for (const { t, n } of plan) console.log(`  ${t.name.padEnd(11)} ${String(n).padStart(8)}  ${t.what}`);
console.log(`findings: ${outDir}`);

const outcomes: Outcome[] = [];
const queue = [...plan];
await Promise.all(
  Array.from({ length: Math.min(opts.jobs, queue.length) }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) outcomes.push(await runTarget(p.t, p.n));
  }),
);

console.log('\ntarget      inputs     seconds  inputs/s  crashes  hangs');
for (const o of outcomes)
  console.log(
    `${o.target.padEnd(11)} ${String(o.inputs).padStart(8)} ${o.seconds.toFixed(1).padStart(10)} ${(o.inputs / o.seconds).toFixed(0).padStart(9)} ${String(o.crashes.length).padStart(8)} ${String(o.hangs.length).padStart(6)}`,
  );
const after = yardstick();
console.log(`yardstick at the end: ${after} (the machine is shared: compare with the start)`);
const total = outcomes.reduce((s, o) => s + o.inputs, 0);
const found = outcomes.reduce((s, o) => s + o.crashes.length + o.hangs.length, 0);
console.log(`total: ${total} inputs, ${found} finding(s)${found ? ` saved under ${outDir}` : ''}`);
writeFileSync(
  join(outDir, 'summary.json'),
  `${JSON.stringify({ count: opts.count, seed: opts.seed, timeoutMs: opts.timeout, yardstick: { start: machine, end: after }, outcomes }, null, 2)}\n`,
);
process.exit(found ? 1 : 0);

// ------------------------------------------------------------------------------------------------

/** Run `count` inputs of one target in worker threads, restarting after a hang. */
async function runTarget(t: Target, count: number): Promise<Outcome> {
  const o: Outcome = { target: t.name, inputs: 0, seconds: 0, setupSeconds: 0, crashes: [], hangs: [] };
  let from = 0;
  while (from < count) {
    const r = await runWorker(t, from, count, o);
    if (r.hangAt === undefined) break;
    from = r.hangAt + 1;
  }
  console.log(
    `${t.name}: ${o.inputs} inputs in ${o.seconds.toFixed(1)} s (${(o.inputs / o.seconds).toFixed(0)}/s), ${o.crashes.length} crash(es), ${o.hangs.length} hang(s)`,
  );
  return o;
}

function runWorker(t: Target, from: number, to: number, o: Outcome): Promise<{ hangAt?: number }> {
  const tmp = mkdtempSync(join(tmpdir(), `sealwork-fuzz-${t.name}-`));
  const progressBuf = new SharedArrayBuffer(16);
  const inputBuf = new SharedArrayBuffer(INPUT_BUFFER);
  const progress = new Int32Array(progressBuf);
  progress[0] = from;
  const data: WorkerData = {
    target: t.name,
    from,
    to,
    seed: opts.seed,
    tmp,
    simHome,
    outDir,
    progress: progressBuf,
    input: inputBuf,
  };
  const children: number[] = [];
  const w = new Worker(new URL('./fuzz/worker-entry.mjs', import.meta.url), { workerData: data });
  let started = 0;
  let lastIndex = -1;
  let since = 0;
  let lastReport = 0;
  return new Promise((resolveRun, reject) => {
    const finish = (hangAt?: number) => {
      clearInterval(watch);
      // A hanging input was fed too: it counts.
      const done = Atomics.load(progress, 3) + (hangAt === undefined ? 0 : 1);
      o.inputs += done;
      if (started) o.seconds += (performance.now() - started) / 1000;
      for (const pid of children) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(tmp, { recursive: true, force: true });
      resolveRun(hangAt === undefined ? {} : { hangAt });
    };
    const watch = setInterval(() => {
      if (!started) return;
      const i = Atomics.load(progress, 0);
      const now = performance.now();
      if (i !== lastIndex || Atomics.load(progress, 2) === 0) {
        lastIndex = i;
        since = now;
      } else if (now - since > opts.timeout) {
        const len = Math.min(Atomics.load(progress, 1), INPUT_BUFFER);
        const file = join(outDir, `${t.name}-hang-${i}.${t.ext}`);
        writeFileSync(file, new Uint8Array(inputBuf, 0, len));
        o.hangs.push({ index: i, file });
        console.log(`${t.name}: HANG at input ${i} (over ${opts.timeout} ms), saved ${file}`);
        void w.terminate().then(() => finish(i));
        clearInterval(watch);
        return;
      }
      if (now - lastReport > 15_000) {
        lastReport = now;
        const done = Atomics.load(progress, 3);
        console.log(
          `  ${t.name}: ${done + o.inputs}/${to} (${(done / ((now - started) / 1000)).toFixed(0)}/s)`,
        );
      }
    }, 100);
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        started = performance.now();
        lastReport = started;
        o.setupSeconds += m.setupMs / 1000;
      } else if (m.type === 'child') children.push(m.pid);
      else if (m.type === 'crash') {
        o.crashes.push({ index: m.index, file: m.file, error: m.error });
        console.log(`${t.name}: CRASH at input ${m.index}: ${m.error}\n  saved ${m.file}`);
      } else if (m.type === 'done') void w.terminate().then(() => finish());
    });
    w.on('error', (e) => {
      clearInterval(watch);
      reject(new Error(`fuzz target ${t.name}: the worker failed (${e.stack ?? e.message})`));
    });
  });
}

/** Feed one saved input to a target in this thread; 1 when it crashes. */
async function replay(t: Target, file: string): Promise<number> {
  const tmp = mkdtempSync(join(tmpdir(), `sealwork-fuzz-replay-`));
  const pids: number[] = [];
  const h = await t.setup({ tmp, simHome, onChild: (pid) => pids.push(pid) });
  const input = new Uint8Array(readFileSync(file));
  let status = 0;
  const t0 = performance.now();
  try {
    await h.run(input);
    console.log(
      `${t.name}: ${file}: handled (a result or a SealworkError) in ${(performance.now() - t0).toFixed(1)} ms`,
    );
  } catch (e) {
    status = 1;
    console.log(
      `${t.name}: ${file}: CRASH ${isSealworkError(e) ? e.code : ''}\n${(e as Error).stack ?? String(e)}`,
    );
  } finally {
    await h.close?.();
    rmSync(tmp, { recursive: true, force: true });
  }
  return status;
}

/** `openssl speed ecdsap256` verifications per second on this machine (the yardstick of docs/fuzz.md). */
