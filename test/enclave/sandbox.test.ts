import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { iexecEnv, runEnclave, type BuildAppReturnType } from '../../src/enclave/index.js';
import { isSealworkError } from '../../src/errors.js';
import { sandboxApp, type SandboxApp } from '../helpers/sandbox.js';
import { filesContaining } from '../helpers/images.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { waitUntil } from '../helpers/wait.js';

const skip = requires('sandboxed execution (bubblewrap)', [NEEDS_BUSYBOX, NEEDS_BWRAP]);

const SCRIPT = `#!/bin/sh
mode="$1"; shift
case "$mode" in
io)
  cat /iexec_in/in.txt /iexec_in/mem/dataset.txt
  echo "task=$IEXEC_TASK_ID secret1=$IEXEC_REQUESTER_SECRET_1 files=$IEXEC_INPUT_FILES_NUMBER in=$IEXEC_IN out=$IEXEC_OUT"
  echo "dev=$IEXEC_APP_DEVELOPER_SECRET dataset=$IEXEC_DATASET_FILENAME input1=$IEXEC_INPUT_FILE_NAME_1 mode=$SCONE_MODE"
  echo result > /iexec_out/result.txt
  echo x > /app/x 2>/dev/null && echo ROOT-WRITABLE
  echo x > /iexec_in/x 2>/dev/null && echo IN-WRITABLE
  echo x > /tmp/sealwork-private-tmp-probe && echo tmp-ok
  exit 3 ;;
net)
  nc -l -p 9999 >/dev/null 2>&1 &
  i=0
  while [ $i -lt 25 ]; do
    if echo hi | nc -w 2 127.0.0.1 9999 >/dev/null 2>&1; then echo "loopback-inside-ok"; break; fi
    sleep 0.2; i=$((i+1))
  done
  for host in "$@"; do
    if echo ping | nc -w 2 "$host" "$PORT" >/dev/null 2>&1; then echo "CONNECTED $host"; else echo "refused $host"; fi
  done ;;
sleep)
  sleep 4321 & sleep 4321 ;;
secret)
  sha256sum /data/secret.txt > /iexec_out/sha
  touch /iexec_out/started
  sleep 3 ;;
big)
  dd if=/dev/zero bs=1024 count=3072 2>/dev/null | tr '\\0' 'a' ;;
mem)
  dd if=/dev/zero of=/dev/null bs=64M count=1 && echo allocated ;;
esac
`;

function sleepersOnHost(): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\u00004321\u0000') n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

describe('sandboxed execution (bubblewrap)', { skip }, () => {
  let t: SandboxApp;
  let app: BuildAppReturnType;
  let shm: string;
  let stage: string;
  const secret = `plaintext-${createHash('sha256').update(String(Math.random())).digest('hex')}`;
  before(async () => {
    t = await sandboxApp({ prefix: 'sealwork-enclave-run-', script: SCRIPT, secret: secret, heap: '256M' });
    app = t.app;
    shm = t.shm;
    stage = t.stage;
  });
  after(() => t.cleanup());
  const run = (args: string[], over: Partial<Parameters<typeof runEnclave>[0]> = {}) =>
    runEnclave(t.params(args, over));

  it('mounts inputs read-only, outputs writable, passes the iExec environment and the exit status', async () => {
    const inDir = join(t.dir, 'in');
    await fs.mkdir(inDir);
    await fs.writeFile(join(inDir, 'in.txt'), 'from-in-dir\n');
    const outDir = join(t.dir, 'io-out');
    const r = await run(['io'], {
      inDir,
      outDir,
      files: [{ path: 'mem/dataset.txt', data: Buffer.from('from-memory\n') }],
      env: iexecEnv({
        taskId: '0xabc',
        requesterSecrets: { 1: 's3cr3t' },
        inputFiles: ['y'],
        appDeveloperSecret: 'd3v',
        datasetFilename: 'dataset.txt',
      }),
    });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(r.timedOut, false);
    assert.equal(r.simulated, true);
    assert.equal(r.mrenclave, app.mrenclave);
    assert.equal(
      r.stdout,
      'from-in-dir\nfrom-memory\ntask=0xabc secret1=s3cr3t files=1 in=/iexec_in out=/iexec_out\n' +
        'dev=d3v dataset=dataset.txt input1=y mode=SIM\ntmp-ok\n',
    );
    assert.equal(existsSync('/tmp/sealwork-private-tmp-probe'), false, '/tmp is private to the sandbox');
    assert.equal(await fs.readFile(join(outDir, 'result.txt'), 'utf8'), 'result\n');
    assert.equal(existsSync(join(inDir, 'x')), false);
    assert.deepEqual(await fs.readdir(shm), [], 'in-memory inputs and decrypted files are wiped');
  });

  it('cannot connect to a listener on the host', async () => {
    const accepted: string[] = [];
    const server: Server = createServer((s) => {
      accepted.push(String(s.remoteAddress));
      s.destroy();
    });
    await new Promise<void>((res) => server.listen(0, '0.0.0.0', () => res()));
    const port = (server.address() as { port: number }).port;
    const hostIps = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && i.family === 'IPv4' && !i.internal)
      .map((i) => i!.address);
    try {
      // Control: the same probe from the host does connect.
      await new Promise<void>((res, rej) => {
        const c = connect(port, '127.0.0.1', () => (c.destroy(), res()));
        c.on('error', rej);
      });
      await waitUntil(() => accepted.length === 1, 'the host server to accept the control connection');
      const r = await run(['net', '127.0.0.1', ...hostIps], { env: { PORT: String(port) } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /CONNECTED/);
      assert.match(r.stdout, /loopback-inside-ok/, "control: nc works on the sandbox's own loopback");
      assert.match(r.stdout, /refused 127\.0\.0\.1/);
      assert.equal(accepted.length, 1, 'no connection from the sandbox reached the host');
    } finally {
      server.close();
    }
  });

  it('kills the whole process tree at the timeout', async () => {
    let settled = false;
    const running = run(['sleep'], { timeoutMs: 4000 }).finally(() => (settled = true));
    // Watched until both sleeps show up, or the run ends (then the control below fails).
    const seen = await waitUntil(() => {
      const n = sleepersOnHost();
      return n === 2 || settled ? n : undefined;
    }, 'the sandboxed sleeps or the end of the run');
    assert.equal(seen, 2, 'control: both sandboxed sleeps are visible from the host while running');
    const r = await running;
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    // SIGKILL is delivered at once but reaped asynchronously: wait for the processes to be gone.
    await waitUntil(() => sleepersOnHost() === 0, 'no sandboxed process to survive the timeout');
  });

  it('never writes the plaintext of encrypted files to the host disk', async () => {
    const outDir = join(t.dir, 'secret-out');
    const running = run(['secret'], { outDir });
    // /iexec_out is the run's own (a sized tmpfs under its memory folder), copied out at the end.
    const started = () => readdirSync(shm).some((d) => existsSync(join(shm, d, 'out', 'started')));
    await waitUntil(started, 'the app to start (its /iexec_out/started marker)');
    // While the app runs: the image, the unpacked root, scratch and output folders hold no plaintext.
    assert.deepEqual(await filesContaining(t.dir, Buffer.from(secret)), []);
    assert.deepEqual(await filesContaining(stage, Buffer.from(secret)), []);
    // The plaintext exists only in the memory-backed folder.
    assert.ok((await filesContaining(shm, Buffer.from(secret))).length > 0);
    const r = await running;
    assert.equal(r.exitCode, 0, r.stderr);
    const sha = createHash('sha256').update(secret).digest('hex');
    assert.equal(
      (await fs.readFile(join(outDir, 'sha'), 'utf8')).split(' ')[0],
      sha,
      'the app read the plaintext',
    );
    assert.deepEqual(await fs.readdir(shm), []);
  });

  it('bounds captured output and limits memory', async () => {
    const big = await run(['big'], { maxOutputBytes: 1000 });
    assert.equal(big.stdout, 'a'.repeat(1000));
    assert.equal(big.stdoutTruncated, true);
    const ok = await run(['mem']);
    assert.match(ok.stdout, /allocated/, ok.stderr);
    const limited = await run(['mem'], { memoryBytes: 16 * 1024 * 1024 });
    assert.doesNotMatch(limited.stdout, /allocated/);
    assert.notEqual(limited.exitCode, 0);
    assert.match(limited.memoryLimit.mechanism, /RLIMIT_AS/);
    // Default: the enclave's memory (heap + threads × stack), from the sealed configuration.
    assert.equal(ok.memoryLimit.bytes, 256 * 2 ** 20 + 8 * 8 * 2 ** 20);
  });

  it('an already aborted signal stops the app at once', async () => {
    const r = await run(['sleep'], { signal: AbortSignal.abort() });
    assert.equal(r.signal, 'SIGKILL');
    // Stopped by the abort, not by the (20 s) timeout: nothing ran long enough to time out.
    assert.equal(r.timedOut, false);
    assert.equal(sleepersOnHost(), 0);
  });

  it('refuses caller environment that would change the program run or the fixed variables', async () => {
    for (const name of ['PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'IEXEC_OUT', 'SCONE_MODE']) {
      const outDir = join(t.dir, `env-out-${name}`);
      await assert.rejects(
        run(['io'], { env: { [name]: '/iexec_in', IEXEC_TASK_ID: '0x1' }, outDir }),
        (e) =>
          isSealworkError(e, 'ENV_RESERVED') && e.details?.name === name && !e.message.includes('/iexec_in'),
      );
      assert.equal(existsSync(join(outDir, 'result.txt')), false);
    }
  });
});
