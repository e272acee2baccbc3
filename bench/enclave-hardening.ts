/**
 * What the sandbox hardening costs: start-to-exit latency of the same busybox app (4 MiB
 * encrypted region) through this checkout's runtime (after) and through the runtime of the last
 * commit before the hardening (before, checked out in a temporary git worktree), run in turn, pair
 * by pair, so the ratio holds on a noisy machine. Prints figures only (goal: after/before ≤ 1.10).
 *
 * Run: node --import tsx bench/enclave-hardening.ts [runs]   (SEALWORK_BENCH_BEFORE=<commit>)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildApp, runEnclave } from '../src/enclave/index.js';
import { busyboxImage } from '../test/helpers/images.js';
import { yardstick } from './yardstick.js';

const BEFORE = process.env.SEALWORK_BENCH_BEFORE ?? '2df20cc';
const runs = Number(process.argv[2] ?? 15);
const repo = resolve(import.meta.dirname, '..');

const dir = mkdtempSync('/var/tmp/sealwork-bench-hardening-');
chmodSync(dir, 0o711);
const tree = join(dir, 'before');
try {
  execFileSync('git', ['-C', repo, 'worktree', 'add', '--detach', tree, BEFORE], { stdio: 'ignore' });
  symlinkSync(join(repo, 'node_modules'), join(tree, 'node_modules'));
  const old = (await import(join(tree, 'src/enclave/index.ts'))) as { runEnclave: typeof runEnclave };

  const src = await busyboxImage(join(dir, 'src'), [
    { name: 'app/', type: 'directory' },
    { name: 'app/run.sh', data: '#!/bin/sh\ncat /data/x > /iexec_out/y\n', mode: 0o755 },
    { name: 'data/', type: 'directory' },
    { name: 'data/x', data: Buffer.alloc(4 << 20, 7) },
  ]);
  const app = await buildApp({
    image: src,
    out: join(dir, 'app'),
    entrypoint: '/app/run.sh',
    regions: ['/:authenticated', '/data:encrypted'],
    home: dir,
    workDir: dir,
  });
  const params = (i: number, tag: string) => ({
    image: app.out,
    fspfKey: app.fspfKey,
    fspfTag: app.fspfTag,
    fsKeyFile: app.fsKeyFile,
    outDir: join(dir, `out-${tag}-${i}`),
    workDir: dir,
  });
  const time = async (f: () => Promise<{ exitCode: number | null; stderr: string }>) => {
    const t = performance.now();
    const r = await f();
    if (r.exitCode !== 0) throw new Error(r.stderr);
    return performance.now() - t;
  };
  await time(() => runEnclave(params(-1, 'a'))); // warm-up (seccomp program, module loads)
  await time(() => old.runEnclave(params(-1, 'b')));
  const after: number[] = [];
  const before: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await time(() => runEnclave(params(i, 'a')));
    const b = await time(() => old.runEnclave(params(i, 'b')));
    after.push(a);
    before.push(b);
    ratios.push(a / b);
  }
  const med = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)]!;
  };
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  console.log(`machine yardstick: ${yardstick()}`);
  console.log(`runEnclave start-to-exit, busybox app + 4 MiB encrypted region, ${runs} pairs:`);
  console.log(`  before (${BEFORE}, no hardening): median ${med(before).toFixed(0)} ms (${range(before)})`);
  console.log(`  after  (this checkout, hardened): median ${med(after).toFixed(0)} ms (${range(after)})`);
  console.log(
    `  after / before, pair by pair: median ${med(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); goal ≤ 1.10`,
  );
} finally {
  execFileSync('git', ['-C', repo, 'worktree', 'remove', '--force', tree], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
