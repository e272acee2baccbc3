/**
 * A forged result is refused, with nothing written. Two attacks on a completed task, on real parts
 * (anvil, SMS, storage, worker, bubblewrap enclaves):
 * - the storage operator replaces the stored object with a correctly encrypted forgery (the result
 *   key is public): its bytes no longer hash to the content address (`RESULT_CONTENT_MISMATCH`);
 * - a worker whose result upload goes through a malicious storage writes, as the task's `results`
 *   (not covered by the enclave signature), the location of another, genuine-looking object: the
 *   address matches, but the decrypted result does not have the on-chain digest the enclave signed
 *   (`RESULT_DIGEST_MISMATCH`).
 * The genuine result still downloads (0600 files, 0700 folders), and `task show` says which is which.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { isSealworkError } from '../../src/errors.js';
import { deploySampleApp, deploySampleDataset, setupResultKey } from '../../src/sdk/stack/demo.js';
import { downloadResult, runApp, watchTask, type TaskInfo } from '../../src/sdk/worker/requester.js';
import { showTaskWithJournal } from '../../src/sdk/worker/task.js';
import { startWorker, type RunningWorker } from '../../src/sdk/worker/worker.js';
import { encryptResult } from '../../src/worker/postcompute.js';
import { putObject } from '../../src/worker/storage/client.js';
import { zipEntries } from '../../src/worker/zip.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('result integrity end to end', [NEEDS_BWRAP, NEEDS_BUSYBOX]);
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('forged results are refused', { skip }, () => {
  let s: TestStack;
  let worker: RunningWorker;
  let proxy: Server;
  let app: Address;
  let dataset: Address;
  let keys: { privateKeyFile: string; publicKeyFile: string };
  let storageCa: string[];
  /** What the malicious storage stores instead of what the worker uploads (undefined: honest). */
  let substitute: (() => Promise<Buffer>) | undefined;
  const access = () => ({ home: s.home, chainUrl: s.stack.chain.url });

  const runAndWait = async (
    p: Omit<Parameters<typeof runApp>[0], 'home' | 'chainUrl'>,
  ): Promise<TaskInfo> => {
    const r = await runApp({ ...access(), as: 'requester', workerpool: s.stack.workerpool, ...p });
    const t = await watchTask({ ...access(), taskId: r.taskIds[0]!, timeoutMs: 60_000, pollMs: 100 });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    return t;
  };

  /** A forged result: iExec's layout (computed.json + the output it names), any content. */
  const forgedZip = () =>
    zipEntries([
      {
        name: 'computed.json',
        data: Buffer.from(JSON.stringify({ 'deterministic-output-path': '/iexec_out/result.txt' })),
      },
      { name: 'result.txt', data: Buffer.from('patients: 100\nmean glucose: 99.9 mg/dL\n') },
    ]);
  /** …correctly encrypted to the beneficiary's public key, as anyone can. */
  const forgedEncrypted = async () =>
    encryptResult(await forgedZip(), readFileSync(keys.publicKeyFile, 'utf8'));

  const noOutput = (out: string) => {
    assert.ok(!existsSync(out), `${out} must not exist`);
    // No staging folder left beside it either.
    assert.deepEqual(
      readdirSync(dirname(out)).filter((n) => n.includes('.partial')),
      [],
    );
  };

  before(async () => {
    s = await startTestStack({ runWorker: false });
    storageCa = [readFileSync(s.stack.storage.certPath!, 'utf8')];
    // The worker's result storage: forwards uploads to the real storage, or swaps them.
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = substitute ? await substitute() : Buffer.concat(chunks);
          const put = await putObject({ url: s.stack.storage.url, data: body, ca: storageCa });
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(put));
        })().catch((e: unknown) => res.writeHead(500).end(String(e)));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    worker = await startWorker({
      ...access(),
      workerpool: s.stack.workerpool,
      scheduler: (await import('../../src/chain/index.js')).devAccountByName('workerpool'),
      worker: (await import('../../src/chain/index.js')).devAccountByName('worker'),
      smsUrl: s.stack.sms.url,
      smsCa: s.stack.sms.cert,
      storageUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      platform: s.stack.platform,
      appImageRoot: s.stack.appImageRoot,
      // The dataset is in the stack's storage (127.0.0.1, not this worker's storage): allowed.
      allowFetchHosts: [new URL(s.stack.storage.url).host],
    });
    app = (await deploySampleApp(s.stack, { dir: join(s.stack.appImageRoot, 'integrity') })).app;
    dataset = (await deploySampleDataset(s.stack, { restrictApp: app })).dataset;
    keys = await setupResultKey(s.stack, { dir: join(s.home, 'keys') });
  });
  after(async () => {
    await worker?.stop();
    proxy?.close();
    await s?.stop();
  });

  it('the genuine result downloads, verified, 0600 in 0700; task show says it matches', async () => {
    const t = await runAndWait({ app, dataset, encryptResult: true, args: 'genuine' });
    const out = join(s.home, 'dl', 'genuine');
    const r = await downloadResult({
      ...access(),
      taskId: t.taskId,
      decrypt: true,
      keyFile: keys.privateKeyFile,
      out,
    });
    assert.equal(r.contentAddressChecked, true);
    assert.equal(r.digestChecked, true);
    assert.match(readFileSync(join(out, 'result.txt'), 'utf8'), /args: genuine\n$/);
    for (const f of r.files) assert.equal(mode(f), '600', f);
    assert.equal(mode(out), '700');
    const shown = await showTaskWithJournal({ ...access(), taskid: t.taskId, keyFile: keys.privateKeyFile });
    assert.equal(shown.resultCheck?.status, 'match');
    const noKey = await showTaskWithJournal({ ...access(), taskid: t.taskId });
    assert.deepEqual([noKey.resultCheck?.status, noKey.resultCheck?.contentAddress], ['unverified', 'match']);
  });

  it('a stored object replaced by an encrypted forgery is refused (RESULT_CONTENT_MISMATCH), nothing written', async () => {
    const t = await runAndWait({ app, dataset, encryptResult: true, args: 'replaced' });
    const hex = t.results!.location!.split('/').pop()!;
    writeFileSync(join(s.home, 'storage', 'objects', hex.slice(0, 2), hex), await forgedEncrypted());
    const out = join(s.home, 'dl', 'replaced');
    await assert.rejects(
      downloadResult({ ...access(), taskId: t.taskId, decrypt: true, keyFile: keys.privateKeyFile, out }),
      (e) => isSealworkError(e, 'RESULT_CONTENT_MISMATCH'),
    );
    noOutput(out);
    const shown = await showTaskWithJournal({ ...access(), taskid: t.taskId });
    assert.deepEqual(
      [shown.resultCheck?.status, shown.resultCheck?.code],
      ['mismatch', 'RESULT_CONTENT_MISMATCH'],
    );
  });

  it('a forged result at a genuine-looking location is refused (RESULT_DIGEST_MISMATCH), nothing written; CLI exits 1', async () => {
    substitute = forgedEncrypted;
    let t: TaskInfo;
    try {
      t = await runAndWait({ app, dataset, encryptResult: true, args: 'forged' });
    } finally {
      substitute = undefined;
    }
    const out = join(s.home, 'dl', 'forged');
    await assert.rejects(
      downloadResult({ ...access(), taskId: t.taskId, decrypt: true, keyFile: keys.privateKeyFile, out }),
      (e) => isSealworkError(e, 'RESULT_DIGEST_MISMATCH'),
    );
    noOutput(out);
    const env = { SEALWORK_CHAIN_URL: s.stack.chain.url };
    const cli = await runCli(
      [
        '--home',
        s.home,
        '--json',
        'result',
        'download',
        t.taskId,
        '--decrypt',
        '--key',
        keys.privateKeyFile,
        '--out',
        out,
      ],
      { env },
    );
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.equal(
      (JSON.parse(cli.stdout) as { error: { code: string } }).error.code,
      'RESULT_DIGEST_MISMATCH',
    );
    noOutput(out);
    const show = await runCli(['--home', s.home, 'task', 'show', t.taskId, '--key', keys.privateKeyFile], {
      env,
    });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^stored result: mismatch \[RESULT_DIGEST_MISMATCH\]/m);
    const json = await runCli(
      ['--home', s.home, '--json', 'task', 'show', t.taskId, '--key', keys.privateKeyFile],
      {
        env,
      },
    );
    const j = JSON.parse(json.stdout) as {
      resultCheck: { status: string; contentAddress: string; digest: string };
    };
    assert.deepEqual(
      [j.resultCheck.status, j.resultCheck.contentAddress, j.resultCheck.digest],
      ['mismatch', 'match', 'mismatch'],
    );
  });

  it('an unencrypted forgery is refused too, without --decrypt', async () => {
    substitute = forgedZip;
    let t: TaskInfo;
    try {
      t = await runAndWait({ app, dataset, args: 'plain-forged' });
    } finally {
      substitute = undefined;
    }
    const out = join(s.home, 'dl', 'plain-forged');
    await assert.rejects(downloadResult({ ...access(), taskId: t.taskId as Hex, out }), (e) =>
      isSealworkError(e, 'RESULT_DIGEST_MISMATCH'),
    );
    noOutput(out);
  });
});
