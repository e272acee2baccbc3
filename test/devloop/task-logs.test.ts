/**
 * `sealwork task logs`: the worker keeps the app's stdout/stderr of each task and hands them only
 * to the task's requester, on an EIP-712-signed request; `app run --watch` prints them when a task
 * fails. Real parts: anvil, SMS, storage, the worker and its logs API over HTTPS, the sandbox.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import type { Address, Hex } from 'viem';
import { devAccountByName } from '../../src/chain/index.js';
import { taskLogsTypedData } from '../../src/protocol/task-logs.js';
import { deploySampleApp } from '../../src/sdk/stack/demo.js';
import { authorizeLogsRequest, saveTaskLogs } from '../../src/worker/logs.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const TASK = `0x${'ab'.repeat(32)}` as Hex;

describe('task logs: who may read them', () => {
  let t: ReturnType<typeof tempDir>;
  const requester = privateKeyToAccount(generatePrivateKey());
  const other = privateKeyToAccount(generatePrivateKey());
  const now = 1_800_000_000;
  const sign = async (acct: typeof requester, claimed: Address, issuedAt = now, chainId = 31337) => ({
    requester: claimed,
    issuedAt,
    signature: await acct.signTypedData(
      taskLogsTypedData(chainId, { taskId: TASK, requester: claimed, issuedAt }),
    ),
  });
  before(async () => {
    t = tempDir('sealwork-logs-');
    await saveTaskLogs(
      t.dir,
      { taskId: TASK, requester: requester.address },
      {
        exitCode: 3,
        signal: null,
        timedOut: false,
        stdout: 'x'.repeat(70 * 1024) + 'END',
        stderr: 'boom\n',
        stdoutTruncated: false,
        stderrTruncated: false,
        durationMs: 5,
      },
    );
  });
  after(() => t.cleanup());
  const ask = (body: unknown, at = now, task: string = TASK) =>
    authorizeLogsRequest(t.dir, 31337, task, body, at);

  it('gives the requester the bounded logs (the end kept)', async () => {
    const r = await ask(await sign(requester, requester.address));
    assert.equal(r.stderr, 'boom\n');
    assert.equal(r.exitCode, 3);
    assert.ok(r.truncated);
    assert.ok(r.stdout.endsWith('END') && Buffer.byteLength(r.stdout) === 64 * 1024);
  });

  it('refuses anyone else, a signature for another chain, an old request, an unknown task', async () => {
    await assert.rejects(ask(await sign(other, other.address)), { code: 'TASK_LOGS_REFUSED' });
    await assert.rejects(ask(await sign(other, requester.address)), { code: 'TASK_LOGS_REFUSED' });
    await assert.rejects(ask(await sign(requester, requester.address, now, 1)), {
      code: 'TASK_LOGS_REFUSED',
    });
    await assert.rejects(ask(await sign(requester, requester.address, now - 3600)), {
      code: 'TASK_LOGS_REQUEST_EXPIRED',
    });
    await assert.rejects(ask(await sign(requester, requester.address), now, `0x${'cd'.repeat(32)}`), {
      code: 'TASK_LOGS_REFUSED', // signed for another task id: the signer recovered is not the requester
    });
    await assert.rejects(ask({ requester: requester.address }), { code: 'TASK_LOGS_REQUEST_INVALID' });
  });
});

describe(
  'task logs from a running worker',
  { skip: requires('task logs end to end', [NEEDS_BWRAP, NEEDS_BUSYBOX]) },
  () => {
    let s: TestStack;
    let app: Address;
    before(async () => {
      s = await startTestStack();
      const script = `#!/bin/sh
echo "working on: $*"
echo "something went wrong: $1" >&2
if [ "$1" = fail ]; then exit 3; fi
echo ok > "$IEXEC_OUT/r.txt"
printf '{"deterministic-output-path":"/iexec_out/r.txt"}' > "$IEXEC_OUT/computed.json"
`;
      app = (await deploySampleApp(s.stack, { dir: join(s.home, 'apps'), name: 'loggy', script })).app;
    });
    after(() => s?.stop());

    it('app run --watch prints the logs of a failed task; task logs serves them to the requester only', async () => {
      const env = { SEALWORK_CHAIN_URL: s.stack.chain.url };
      const run = await runCli(
        [
          '--home',
          s.home,
          'app',
          'run',
          app,
          '--args',
          'fail',
          '--watch',
          '--timeout',
          '120',
          '--as',
          'requester',
          '--workerpool',
          s.stack.workerpool,
        ],
        { env },
      );
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /^something went wrong: fail$/m, run.stderr);
      const taskId = /task: +(0x[0-9a-f]{64})/.exec(run.stdout)?.[1];
      assert.ok(taskId, run.stdout);

      const logs = await runCli(['--home', s.home, '--json', 'task', 'logs', taskId, '--as', 'requester'], {
        env,
      });
      assert.equal(logs.code, 0, logs.stdout + logs.stderr);
      const l = JSON.parse(logs.stdout);
      assert.equal(l.exitCode, 3);
      assert.equal(l.stdout, 'working on: fail\n');
      assert.equal(l.stderr, 'something went wrong: fail\n');
      assert.equal(l.requester.toLowerCase(), devAccountByName('requester').address.toLowerCase());

      const other = await runCli(['--home', s.home, '--json', 'task', 'logs', taskId, '--as', 'app-dev'], {
        env,
      });
      assert.notEqual(other.code, 0);
      assert.equal(JSON.parse(other.stdout).error.code, 'TASK_LOGS_REFUSED');
    });
  },
);
