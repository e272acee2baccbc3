/**
 * The attacks of the sandbox-hardening review, each replayed by a malicious app: host root through
 * /proc/sys, the uid mapping, namespaces and mounts (seccomp), fork bombs, filling /tmp, /dev/shm
 * and /iexec_out, links and FIFOs left in /iexec_out, host paths in mountinfo, region paths through
 * links, and what a `kill -9`'d run leaves behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runEnclave } from '../../src/enclave/index.js';
import { regionSource } from '../../src/enclave/run.js';
import { isSealworkError } from '../../src/errors.js';
import { sandboxApp, type SandboxApp } from '../helpers/sandbox.js';
import { filesContaining } from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { waitUntil } from '../helpers/wait.js';

const skip = requires('sandbox hardening', [NEEDS_BUSYBOX, NEEDS_BWRAP]);

const SCRIPT = `#!/bin/sh
mode="$1"; shift
case "$mode" in
sysctl)
  # Harmless if it succeeded: each value is written back unchanged.
  for f in kernel/core_pattern kernel/printk_ratelimit_burst; do
    v=$(cat /proc/sys/$f)
    if printf '%s\\n' "$v" > /proc/sys/$f 2>/dev/null; then echo "WROTE $f"; else echo "refused $f"; fi
  done
  if echo > /proc/sysrq-trigger 2>/dev/null; then echo "WROTE sysrq"; else echo "refused sysrq"; fi
  if echo 0 > /proc/self/oom_score_adj 2>/dev/null; then echo "WROTE proc"; else echo "refused proc"; fi
  echo "uidmap=$(cat /proc/self/uid_map | tr -s ' ')" ;;
ns)
  busybox unshare -U true 2>/dev/null && echo "UNSHARED user"
  busybox unshare -m true 2>/dev/null && echo "UNSHARED mount"
  busybox unshare -n true 2>/dev/null && echo "UNSHARED net"
  busybox mount -t tmpfs none /tmp 2>/dev/null && echo "MOUNTED"
  busybox nsenter -t 1 -m true 2>/dev/null && echo "ENTERED"
  echo ns-done ;;
sleep)
  echo up > /iexec_out/started
  sleep 4322 ;;
fork)
  # The loop's shell dies at the first refused fork; count what runs with builtins only (no fork).
  ( i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done ) 2>/dev/null
  c=0; for d in /proc/[0-9]*; do c=$((c+1)); done
  echo "procs=$c" ;;
fill)
  dd if=/dev/zero of="$1" bs=65536 count="$2" 2>/dev/null
  echo "size=$(stat -c %s "$1")" ;;
many)
  i=0
  while [ $i -lt "$1" ]; do : > /iexec_out/f$i || break; i=$((i+1)); done ;;
link)
  echo hi > /iexec_out/ok
  ln -s /etc /iexec_out/l ;;
fifo)
  busybox mkfifo /iexec_out/computed.json ;;
mountinfo)
  cat /proc/self/mountinfo ;;
esac
`;

describe('sandbox hardening: a malicious app', { skip }, () => {
  let t: SandboxApp;
  let shm: string;
  before(async () => {
    t = await sandboxApp({
      prefix: 'sealwork-hardening-',
      script: SCRIPT,
      secret: 'top-secret-plaintext-4242',
      heap: '128M',
    });
    shm = t.shm;
  });
  after(() => t.cleanup());
  const params = (args: string[], over: Partial<Parameters<typeof runEnclave>[0]> = {}) =>
    t.params(args, over);
  const run = (args: string[], over: Partial<Parameters<typeof runEnclave>[0]> = {}) =>
    runEnclave(params(args, over));

  it('cannot write /proc/sys (core_pattern), /proc/sysrq-trigger or anything in /proc', async () => {
    const r = await run(['sysctl']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /WROTE/);
    assert.match(r.stdout, /refused kernel\/core_pattern/);
    assert.match(r.stdout, /refused proc/);
  });

  it('runs as an unprivileged host uid, never host root', async () => {
    const running = run(['sleep']);
    const pid = await waitUntil(
      () =>
        readdirSync('/proc').find((p) => {
          try {
            return (
              /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'latin1') === 'sleep\u00004322\u0000'
            );
          } catch {
            return false;
          }
        }),
      'the app to start (its sleep process)',
    );
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uids = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
    if (process.geteuid?.() === 0)
      assert.ok(
        uids.every((u) => u >= 1_000_000),
        `host uids ${uids}`,
      );
    else assert.ok(uids.every((u) => u === process.geteuid?.()));
    // Seen from the host, the app's user namespace maps nothing to host uid 0.
    for (const line of readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split('\n'))
      assert.notEqual(line.trim().split(/\s+/)[1], '0', `uid_map line "${line}"`);
    process.kill(Number(pid), 'SIGKILL');
    await running;
  });

  it('cannot create namespaces, mount, or enter other namespaces (seccomp, --disable-userns)', async () => {
    const r = await run(['ns']);
    assert.match(r.stdout, /ns-done/, r.stderr);
    assert.doesNotMatch(r.stdout, /UNSHARED|MOUNTED|ENTERED/);
  });

  it('a fork loop stops at the process limit', async () => {
    const r = await run(['fork'], { limits: { processes: 24 }, timeoutMs: 10_000 });
    const procs = Number(/procs=(\d+)/.exec(r.stdout)?.[1]);
    assert.ok(procs > 0, r.stdout + r.stderr);
    assert.ok(procs <= 24 + 2, `${procs} processes`);
  });

  it('/tmp and /dev/shm fills stop at their bounds', async () => {
    const limits = { tmpBytes: 2 << 20, shmBytes: 3 << 20 };
    for (const [path, bound] of [
      ['/tmp/fill', limits.tmpBytes],
      ['/dev/shm/fill', limits.shmBytes],
    ] as const) {
      const r = await run(['fill', path, '256'], { limits }); // 16 MiB asked
      const size = Number(/size=(\d+)/.exec(r.stdout)?.[1]);
      assert.ok(size > 0 && size <= bound, `${path}: ${size} bytes`);
    }
  });

  it('a full /iexec_out is refused with RESULT_TOO_LARGE, in bytes and in entries', async () => {
    await assert.rejects(run(['fill', '/iexec_out/big', '256'], { limits: { resultBytes: 1 << 20 } }), (e) =>
      isSealworkError(e, 'RESULT_TOO_LARGE'),
    );
    await assert.rejects(run(['many', '500'], { limits: { resultEntries: 50 } }), (e) =>
      isSealworkError(e, 'RESULT_TOO_LARGE'),
    );
    const ok = await run(['fill', '/iexec_out/small', '4'], { limits: { resultBytes: 1 << 20 } });
    assert.equal(ok.exitCode, 0, ok.stderr);
  });

  it('a symlink or a FIFO left in /iexec_out is refused, without hanging', async () => {
    const outDir = join(t.dir, 'link-out');
    await assert.rejects(run(['link'], { outDir }), (e) => {
      assert.ok(isSealworkError(e, 'RESULT_ENTRY_REFUSED'));
      assert.equal(e.details?.path, '/iexec_out/l');
      return true;
    });
    assert.equal(existsSync(join(outDir, 'l')), false);
    // A hang would be caught by the test runner's own bound; the refusal is what is asserted.
    await assert.rejects(run(['fifo']), (e) => isSealworkError(e, 'RESULT_ENTRY_REFUSED'));
  });

  it('sees no host path in /proc/self/mountinfo', async () => {
    const inDir = join(t.dir, 'user-input-folder');
    await fs.mkdir(inDir);
    await fs.writeFile(join(inDir, 'a.txt'), 'a');
    const outDir = join(t.dir, 'user-output-folder');
    const r = await run(['mountinfo'], { inDir, outDir });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(!r.stdout.includes(t.dir), r.stdout);
    assert.ok(!r.stdout.includes('user-input-folder') && !r.stdout.includes('user-output-folder'));
    assert.ok(!r.stdout.includes(shm), r.stdout);
  });

  it('refuses a region path that passes through a link', async () => {
    const base = join(t.dir, 'region-root');
    await fs.mkdir(join(base, 'real'), { recursive: true });
    await fs.symlink('/', join(base, 'up'));
    assert.equal(await regionSource(base, '/real'), join(base, 'real'));
    await assert.rejects(regionSource(base, '/up/etc'), (e) => isSealworkError(e, 'REGION_PATH_INVALID'));
  });

  it("a kill -9'd run leaves nothing readable after the next start", async () => {
    const p = params(['sleep']);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../helpers/enclave-child.ts'), JSON.stringify(p)],
      {
        stdio: 'ignore',
        env: process.env,
      },
    );
    const runDir = () => readdirSync(shm).find((d) => existsSync(join(shm, d, 'out', 'started')));
    const dir = await waitUntil(runDir, 'the app to start (its /iexec_out/started marker)');
    assert.ok((await filesContaining(join(shm, dir), Buffer.from('top-secret-plaintext-4242'))).length > 0);
    const owner = JSON.parse(readFileSync(join(shm, dir, 'owner.json'), 'utf8')) as { stage: string };
    assert.ok(existsSync(owner.stage));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(existsSync(join(shm, dir)), 'a killed run leaves its folder (until the next start)');
    const next = await run(['sysctl']);
    assert.equal(next.exitCode, 0, next.stderr);
    assert.equal(existsSync(join(shm, dir)), false, 'swept');
    assert.equal(existsSync(owner.stage), false, 'staging swept');
    assert.deepEqual(await filesContaining(shm, Buffer.from('top-secret-plaintext-4242')), []);
    assert.deepEqual(readdirSync(shm), []);
  });
});
