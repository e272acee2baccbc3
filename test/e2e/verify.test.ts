/**
 * `sealwork task verify` on real parts (anvil, SMS, storage, worker, bubblewrap enclaves): a task
 * run by the local stack verifies link by link (the CLI exits 0, text and --json); then each
 * attack breaks its own links and no other:
 * - a receipt signed by another key than the SMS's, or naming another SMS's key;
 * - a receipt for another task;
 * - a stored result replaced after the fact.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { devAccountByName } from '../../src/chain/index.js';
import { signReceipt, spkiBase64, type ReleaseReceipt } from '../../src/protocol/index.js';
import { createSmsClient } from '../../src/sms-client/index.js';
import { deploySampleApp, deploySampleDataset, setupResultKey } from '../../src/sdk/stack/demo.js';
import { VERIFY_LINKS, verifyTask, type VerifyTaskReport } from '../../src/sdk/task/verify.js';
import { runApp, watchTask } from '../../src/sdk/worker/requester.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('task verify end to end', [NEEDS_BWRAP, NEEDS_BUSYBOX]);
const failing = (r: VerifyTaskReport) => r.links.filter((l) => !l.ok).map((l) => l.name);

describe('sealwork task verify', { skip }, () => {
  let s: TestStack;
  let app: Address;
  let dataset: Address;
  let keys: { privateKeyFile: string };
  let taskA: Hex;
  let taskB: Hex;
  const access = () => ({ home: s.home, chainUrl: s.stack.chain.url });
  const verify = (o: Partial<Parameters<typeof verifyTask>[0]> = {}) =>
    verifyTask({
      ...access(),
      taskId: taskA,
      as: 'requester',
      keyFile: keys.privateKeyFile,
      allowSimulation: true,
      ...o,
    });
  const run = async (args: string): Promise<Hex> => {
    const r = await runApp({
      ...access(),
      as: 'requester',
      app,
      dataset,
      workerpool: s.stack.workerpool,
      encryptResult: true,
      args,
    });
    const t = await watchTask({ ...access(), taskId: r.taskIds[0]!, timeoutMs: 60_000, pollMs: 100 });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    return t.taskId;
  };
  /** Write a receipt to a file for `--receipt`. */
  const receiptFile = (name: string, r: ReleaseReceipt) => {
    const f = join(s.home, `${name}.receipt.json`);
    writeFileSync(f, JSON.stringify(r));
    return f;
  };
  const smsReceipt = (task: Hex) =>
    createSmsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).getReceipt(
      devAccountByName('requester'),
      task,
    );

  before(async () => {
    s = await startTestStack();
    app = (await deploySampleApp(s.stack, { dir: join(s.stack.appImageRoot, 'verify') })).app;
    dataset = (await deploySampleDataset(s.stack, { restrictApp: app })).dataset;
    keys = await setupResultKey(s.stack, { dir: join(s.home, 'keys') });
    taskA = await run('a');
    taskB = await run('b');
  });
  after(async () => {
    await s?.stop();
  });

  it('a task run by the stack verifies: every link passes, simulated reported in each', async () => {
    const r = await verify();
    assert.deepEqual(failing(r), [], JSON.stringify(r.links, null, 2));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.links.map((l) => l.name),
      [...VERIFY_LINKS],
    );
    assert.equal(r.simulated, true);
    assert.ok(r.links.every((l) => l.simulated));
    assert.match(
      r.receiptSource ?? '',
      /\/objects\/[0-9a-f]{64}$/,
      'the receipt published beside the result',
    );
    const identity = r.links.find((l) => l.name === 'enclave-identity')!;
    assert.equal(identity.expected?.split(',')[0], identity.actual?.split(',')[0], 'MRENCLAVE compared');
    // The receipt from the SMS (read with the requester's wallet) verifies the same way.
    const viaSms = await verify({ receiptFrom: 'sms' });
    assert.deepEqual(failing(viaSms), []);
    assert.match(viaSms.receiptSource ?? '', /\/receipts\/0x/);
  });

  it('the CLI prints each link and exits 0 (text and --json)', async () => {
    const args = [
      'task',
      'verify',
      taskA,
      '--home',
      s.home,
      '--chain-url',
      s.stack.chain.url,
      '--as',
      'requester',
      '--key',
      keys.privateKeyFile,
      '--allow-simulation',
    ];
    const text = await runCli(args);
    assert.equal(text.code, 0, text.stderr);
    for (const name of VERIFY_LINKS)
      assert.match(text.stdout, new RegExp(`PASS  ${name}: .*\\[simulated\\]`));
    assert.match(text.stdout, /VERIFIED: .*SIMULATED/);
    const json = await runCli([...args, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as VerifyTaskReport;
    assert.equal(report.ok, true);
    // Without --allow-simulation the enclave link (and only it) fails, and the exit is non-zero.
    const strict = await runCli(args.filter((a) => a !== '--allow-simulation'));
    assert.notEqual(strict.code, 0);
    assert.match(strict.stdout, /FAIL {2}enclave-identity/);
    assert.match(strict.stderr, /TASK_NOT_VERIFIED/);
  });

  it('a receipt signed by another key than the one it names fails the signature link only', async () => {
    const genuine = await smsReceipt(taskA);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = signReceipt(genuine.body, other);
    const r = await verify({ receiptFile: receiptFile('forged', forged) });
    assert.deepEqual(failing(r), ['receipt-signature']);
  });

  it("a receipt from another SMS's key (its own certificate) fails the SMS link only", async () => {
    const genuine = await smsReceipt(taskA);
    const tls = await generateSelfSignedCert();
    const key = createPrivateKey(tls.key);
    const evidence = { ...genuine.body.sms.evidence!, certificate: tls.cert };
    const other = signReceipt({ ...genuine.body, sms: { publicKey: spkiBase64(key), evidence } }, key);
    const r = await verify({ receiptFile: receiptFile('other-sms', other) });
    assert.deepEqual(failing(r), ['sms-attestation']);
  });

  it('a receipt for another task fails the task and enclave-challenge links only', async () => {
    const r = await verify({ receiptFile: receiptFile('task-b', await smsReceipt(taskB)) });
    assert.deepEqual(failing(r), ['receipt-task', 'enclave-challenge']);
  });

  it('a tampered stored result fails the digest link only', async () => {
    const shown = await verify();
    assert.equal(shown.ok, true);
    const { showTask } = await import('../../src/sdk/worker/requester.js');
    const location = (await showTask({ ...access(), taskId: taskA })).results!.location!;
    const hex = location.split('/').pop()!;
    const stored = join(s.home, 'storage', 'objects', hex.slice(0, 2), hex);
    const bytes = readFileSync(stored);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
    writeFileSync(stored, bytes);
    const r = await verify();
    assert.deepEqual(failing(r), ['result-digest']);
    assert.match(r.links.find((l) => l.name === 'result-digest')!.actual ?? '', /RESULT_CONTENT_MISMATCH/);
  });
});
