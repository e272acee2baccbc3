/**
 * End to end on real parts: anvil, the SMS over HTTPS, the storage over HTTPS, the simulated
 * quoting platform, bubblewrap enclaves, the worker — one stack shared by the tests of this file.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { utils as iexecUtils } from 'iexec';
import type { Address, Hex } from 'viem';
import { listOrders, orderToJson, readTask, TaskStatus } from '../../src/chain/index.js';
import { isSealworkError } from '../../src/errors.js';
import { deploySampleApp, deploySampleDataset, setupResultKey } from '../../src/sdk/stack/demo.js';
import { downloadResult, runApp, watchTask, type TaskInfo } from '../../src/sdk/worker/requester.js';
import { unzipEntries } from '../../src/worker/zip.js';
import { runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

import { startTestStack, type TestStack } from '../helpers/stack.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const skip = requires('worker end to end', [NEEDS_BWRAP, NEEDS_BUSYBOX]);
const sha256 = (b: Buffer) => `0x${createHash('sha256').update(b).digest('hex')}`;

describe('worker end to end', { skip }, () => {
  let s: TestStack;
  let appA: Address;
  let datasetA: Address;
  let keys: { privateKeyFile: string; publicKeyFile: string };
  const access = () => ({ home: s.home, chainUrl: s.stack.chain.url });

  const runAndWait = async (
    p: Omit<Parameters<typeof runApp>[0], 'home' | 'chainUrl'>,
  ): Promise<TaskInfo> => {
    const r = await runApp({ ...access(), as: 'requester', workerpool: s.stack.workerpool, ...p });
    return watchTask({ ...access(), taskId: r.taskIds[0]!, timeoutMs: 60_000, pollMs: 100 });
  };

  // A local IPFS gateway (plain HTTP): serves /ipfs/<cid> from this map and counts the requests.
  const ipfs = new Map<string, Buffer>();
  const ipfsHits: string[] = [];
  let gateway: Server;

  before(async () => {
    gateway = createServer((req, res) => {
      ipfsHits.push(req.url ?? '');
      const body = ipfs.get((req.url ?? '').replace(/^\/ipfs\//, ''));
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const gw = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/`;
    // Zero checksums allowed: the tamper test deploys an app identified by its fingerprint alone.
    s = await startTestStack({ ipfsGateway: gw, allowZeroChecksum: true });
    const app = await deploySampleApp(s.stack, { dir: join(s.home, 'apps') });
    appA = app.app;
    datasetA = (await deploySampleDataset(s.stack, { restrictApp: appA })).dataset;
    keys = await setupResultKey(s.stack, { dir: join(s.home, 'keys') });
  });
  after(async () => {
    await s?.stop();
    gateway?.close();
  });

  it('happy path with result encryption (RSA-OAEP): only the beneficiary key decrypts; a wrong key cannot', async () => {
    const t = await runAndWait({ app: appA, dataset: datasetA, encryptResult: true, args: 'enc' });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    const out = join(s.home, 'dl-enc');
    const r = await downloadResult({
      ...access(),
      taskId: t.taskId,
      decrypt: true,
      keyFile: keys.privateKeyFile,
      out,
    });
    assert.equal(r.encrypted, true);
    assert.equal(r.format, 'oaep-sha256');
    const result = readFileSync(join(out, 'result.txt'));
    assert.match(
      result.toString(),
      /^patients: 100\nmean glucose: 123\.2 mg\/dL\nat or above 126 mg\/dL: 47\nargs: enc\n$/,
    );
    // The digest on chain is iExec's: 0x + sha256 of the deterministic output.
    assert.equal(t.resultDigest, sha256(result));
    // The stored object is ciphertext only.
    const raw = await downloadResult({ ...access(), taskId: t.taskId, out: join(s.home, 'dl-enc-raw') });
    assert.ok(!readFileSync(raw.files[0]!).includes(Buffer.from('patients')));
    // A wrong beneficiary key cannot decrypt.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const otherFile = join(s.home, 'other.key');
    writeFileSync(otherFile, other);
    await assert.rejects(
      downloadResult({
        ...access(),
        taskId: t.taskId,
        decrypt: true,
        keyFile: otherFile,
        out: join(s.home, 'dl-wrong'),
      }),
      (e) => isSealworkError(e, 'RESULT_KEY_MISMATCH'),
    );
    assert.ok(!existsSync(join(s.home, 'dl-wrong', 'result.txt')));
  });

  it('happy path without encryption, through the CLI (app run --watch, task show, result download)', async () => {
    const env = { SEALWORK_CHAIN_URL: s.stack.chain.url };
    const run = await runCli(
      [
        '--home',
        s.home,
        '--json',
        'app',
        'run',
        appA,
        '--dataset',
        datasetA,
        '--as',
        'requester',
        '--args',
        'plain',
        '--watch',
      ],
      { env },
    );
    assert.equal(run.code, 0, run.stderr + run.stdout);
    // Bad numbers are refused before any transaction.
    for (const [flag, value, code] of [
      ['--volume', '0', 'VOLUME_INVALID'],
      ['--timeout', 'soon', 'WATCH_TIMEOUT_INVALID'],
    ] as const) {
      const bad = await runCli(
        ['--home', s.home, '--json', 'app', 'run', appA, '--as', 'requester', '--watch', flag, value],
        { env },
      );
      assert.equal(bad.code, 1, bad.stdout);
      assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, code);
    }
    const j = JSON.parse(run.stdout) as { taskIds: Hex[]; tasks: TaskInfo[] };
    assert.equal(j.tasks[0]!.status, 'COMPLETED');
    const taskId = j.taskIds[0]!;
    const show = await runCli(['--home', s.home, '--json', 'task', 'show', taskId], { env });
    assert.equal(show.code, 0, show.stderr);
    const info = JSON.parse(show.stdout) as {
      statusName: string;
      resultsLocation: string;
      failureCause: unknown;
    };
    assert.equal(info.statusName, 'COMPLETED');
    assert.match(info.resultsLocation, /^https:\/\/127\.0\.0\.1:\d+\/objects\/[0-9a-f]{64}$/);
    assert.equal(info.failureCause, null);
    const out = join(s.home, 'dl-plain');
    const dl = await runCli(['--home', s.home, '--json', 'result', 'download', taskId, '--out', out], {
      env,
    });
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.equal(readFileSync(join(out, 'result.txt'), 'utf8').split('\n')[3], 'args: plain');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'computed.json'), 'utf8')), {
      'deterministic-output-path': '/iexec_out/result.txt',
    });
  });

  it('a result in the iExec format decrypts with the real iexec SDK', async () => {
    const t = await runAndWait({
      app: appA,
      dataset: datasetA,
      encryptResult: true,
      resultKeyFormat: 'iexec',
    });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    const raw = await downloadResult({ ...access(), taskId: t.taskId, out: join(s.home, 'dl-iexec') });
    const zip = await iexecUtils.decryptResult(
      readFileSync(raw.files[0]!),
      readFileSync(keys.privateKeyFile, 'utf8'),
    );
    const entries = await unzipEntries(Buffer.from(zip));
    assert.match(entries.get('result.txt')!.toString(), /^patients: 100\n/);
    const warnings: string[] = [];
    const ours = await downloadResult({
      ...access(),
      taskId: t.taskId,
      decrypt: true,
      keyFile: keys.privateKeyFile,
      out: join(s.home, 'dl-iexec-ours'),
      onWarning: (w) => warnings.push(w),
    });
    assert.equal(ours.format, 'iexec');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /PKCS#1 v1\.5/);
  });

  it('app developer secret, requester secret, input file and an encrypted FSPF region (file-system key from the SMS) reach the app; an app failure is recorded with its cause', async () => {
    const script = `#!/bin/sh
if [ "$1" = fail ]; then exit 3; fi
{
  echo "model: $(cat /app/model/weights.txt)"
  echo "developer secret: $IEXEC_APP_DEVELOPER_SECRET"
  echo "secret: $IEXEC_REQUESTER_SECRET_1"
  echo "inputs: $IEXEC_INPUT_FILES_NUMBER $IEXEC_INPUT_FILE_NAME_1"
  cat "$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1"
} > "$IEXEC_OUT/out.txt"
printf '{"deterministic-output-path":"/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
`;
    // The app's model sits in an encrypted FSPF region: readable only with the file-system key the
    // SMS releases to the attested enclave.
    const app = await deploySampleApp(s.stack, {
      dir: join(s.home, 'apps'),
      name: 'io-app',
      script,
      regions: ['/:authenticated', '/app/model:encrypted'],
      files: [{ path: '/app/model/weights.txt', data: Buffer.from('model-weights-7') }],
    });
    const { devAccountByName } = await import('../../src/chain/index.js');
    const { createSmsClient: smsClient } = await import('../../src/sms-client/index.js');
    await smsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).pushRequesterSecret(
      devAccountByName('requester'),
      'api-token',
      'tok-123',
    );
    await smsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).pushAppSecret(
      devAccountByName('app-dev'),
      app.app,
      'dev-42',
    );
    const { putObject } = await import('../../src/worker/storage/client.js');
    const input = await putObject({
      url: s.stack.storage.url,
      data: Buffer.from('input file body\n'),
      ca: [readFileSync(s.stack.storage.certPath!, 'utf8')],
    });
    const t = await runAndWait({ app: app.app, secrets: { '1': 'api-token' }, inputFiles: [input.url] });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    const out = join(s.home, 'dl-io');
    await downloadResult({ ...access(), taskId: t.taskId, out });
    const name = input.url.split('/').pop();
    assert.equal(
      readFileSync(join(out, 'out.txt'), 'utf8'),
      `model: model-weights-7\ndeveloper secret: dev-42\nsecret: tok-123\ninputs: 1 ${name}\ninput file body\n`,
    );
    const f = await runAndWait({ app: app.app, args: 'fail' });
    assert.equal(f.status, 'ACTIVE');
    assert.equal(f.worker?.step, 'failed');
    assert.deepEqual(f.worker?.cause, {
      code: 'APP_EXIT_NONZERO',
      message: 'The app exited with status 3.',
      details: { exitCode: 3 },
    });
    // One `task show`: the on-chain fields plus the cause from this home's worker journal.
    const env = { SEALWORK_CHAIN_URL: s.stack.chain.url };
    const shown = await runCli(['--home', s.home, '--json', 'task', 'show', f.taskId], { env });
    assert.equal(shown.code, 0, shown.stderr);
    const j = JSON.parse(shown.stdout) as Record<string, unknown>;
    assert.equal(j.statusName, 'ACTIVE');
    assert.equal(j.workerStep, 'failed');
    assert.equal(j.resultsLocation, null);
    assert.equal((j.failureCause as { code: string }).code, 'APP_EXIT_NONZERO');
    const human = await runCli(['--home', s.home, 'task', 'show', f.taskId], { env });
    assert.match(human.stdout, /^status: +ACTIVE$/m);
    assert.match(human.stdout, /^cause: +\[APP_EXIT_NONZERO\] The app exited with status 3\.$/m);
  });

  it('an app image published as an https:// OCI archive is downloaded, checked against its checksum and run', async () => {
    const app = await deploySampleApp(s.stack, {
      dir: join(s.home, 'apps'),
      name: 'remote-app',
      viaStorage: true,
    });
    const ds = (await deploySampleDataset(s.stack, { restrictApp: app.app })).dataset;
    const t = await runAndWait({ app: app.app, dataset: ds });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
  });

  it('a dataset at an IPFS path is fetched through the configured gateway, checked and decrypted', async () => {
    const cid = `QmSealwork${Date.now().toString(36)}`;
    const ds = await deploySampleDataset(s.stack, { restrictApp: appA, multiaddr: `/ipfs/${cid}` });
    const { fetchBytes } = await import('../../src/worker/fetch.js');
    ipfs.set(cid, await fetchBytes(ds.storedUrl, { ca: [readFileSync(s.stack.storage.certPath!, 'utf8')] }));
    const t = await runAndWait({ app: appA, dataset: ds.dataset, args: 'ipfs' });
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    assert.deepEqual(ipfsHits, [`/ipfs/${cid}`]);
    const out = join(s.home, 'dl-ipfs');
    await downloadResult({ ...access(), taskId: t.taskId, out });
    assert.match(readFileSync(join(out, 'result.txt'), 'utf8'), /^patients: 100\n[\s\S]*args: ipfs\n$/);
  });

  it('failure causes: dataset checksum mismatch, SMS refusal (no result key for the beneficiary)', async () => {
    const app = await deploySampleApp(s.stack, { dir: join(s.home, 'apps'), name: 'cause-app' });
    // A dataset whose on-chain checksum is not the stored file's.
    const ds = await deploySampleDataset(s.stack, { restrictApp: app.app });
    const { createChainClientsFor } = await import('../../src/sdk/stack/index.js');
    const { createDataset, createDatasetOrder, devAccountByName, publishOrder, signOrder } =
      await import('../../src/chain/index.js');
    const { createSmsClient: smsClient } = await import('../../src/sms-client/index.js');
    const owner = devAccountByName('dataset-owner');
    const c = await createChainClientsFor(s.home, s.stack.chain.url, owner);
    const w = { publicClient: c.publicClient, walletClient: c.walletClient, deployment: c.deployment };
    const { address: bad } = await createDataset(w, {
      name: 'bad',
      multiaddr: ds.url,
      checksum: `0x${'ab'.repeat(32)}`,
    });
    await smsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).pushDatasetSecret(
      owner,
      bad,
      'A'.repeat(43) + '=',
    );
    const order = await signOrder(
      c.walletClient!,
      { chainId: c.deployment.chainId, hub: c.deployment.hub },
      'dataset',
      createDatasetOrder({ dataset: bad, apprestrict: app.app, volume: 10n }),
    );
    await publishOrder(w, 'dataset', order);
    const t1 = await runAndWait({ app: app.app, dataset: bad });
    assert.equal(t1.worker?.cause?.code, 'DATASET_CHECKSUM_MISMATCH');
    // Result encryption for a beneficiary that pushed no key: the SMS refuses the session.
    const t2 = await runAndWait({
      app: app.app,
      encryptResult: true,
      beneficiary: devAccountByName('enclave').address,
    });
    assert.equal(t2.worker?.cause?.code, 'RESULT_KEY_MISSING');
    // An input file on the worker host's disk: a requester must not read the worker's files.
    const t3 = await runAndWait({ app: app.app, inputFiles: ['file:///etc/hostname'] });
    assert.equal(t3.worker?.cause?.code, 'FILE_URL_REFUSED');
    const audit = await s.stack.sms.store.listAudit({ taskId: t2.taskId });
    assert.equal(audit[0]?.verdict, 'refused');
  });

  it('an input file at a loopback address of the worker host is refused (SSRF), the server never reached', async () => {
    // A service only the worker host can reach: a requester must not read it through an app.
    const hits: string[] = [];
    const internal = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('worker-host secret\n');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    try {
      const port = (internal.address() as AddressInfo).port;
      const app = await deploySampleApp(s.stack, { dir: join(s.home, 'apps'), name: 'ssrf-app' });
      const t = await runAndWait({ app: app.app, inputFiles: [`http://localhost:${port}/secret.txt`] });
      assert.equal(t.worker?.cause?.code, 'FETCH_ADDRESS_REFUSED', JSON.stringify(t.worker));
      assert.deepEqual(hits, []);
    } finally {
      internal.close();
    }
  });

  it('a dataset restricted to another app cannot be matched', async () => {
    const other = await deploySampleApp(s.stack, { dir: join(s.home, 'apps'), name: 'other-app' });
    await assert.rejects(
      runApp({ ...access(), as: 'requester', app: other.app, dataset: datasetA }),
      (e) =>
        isSealworkError(e, 'DATASET_ORDER_NOT_FOUND') &&
        e.message.includes(`restricts apps to ${appA}`) &&
        e.message.includes(other.app),
    );
    // Forcing the dataset order in anyway: the chain itself refuses the match.
    const c = s.stack.chain.clients;
    const [published] = await listOrders(c.publicClient, c.deployment, {
      kind: 'dataset',
      dataset: datasetA,
    });
    const file = join(s.home, 'dataset-order.json');
    writeFileSync(file, JSON.stringify({ kind: 'dataset', order: orderToJson(published!.order) }));
    await assert.rejects(
      runApp({ ...access(), as: 'requester', app: other.app, dataset: datasetA, datasetOrderFile: file }),
      (e) => isSealworkError(e) && /restricts/.test(e.message),
    );
  });

  it('an app image changed after deployment is refused by the enclave: no secret released; the task is claimed after its deadline', async () => {
    const dir = join(s.home, 'apps', 'tamper'); // under the worker's app image folder
    // Deployed with its checksum: the worker refuses the changed image before anything else.
    const withSum = await deploySampleApp(s.stack, { dir, name: 'sum-app' });
    // Deployed with a zero checksum: only the fingerprint (MrEnclave|FSPF key|FSPF tag) names it.
    const noSum = await deploySampleApp(s.stack, { dir, name: 'fp-app', noChecksum: true });
    const dsSum = (await deploySampleDataset(s.stack, { restrictApp: withSum.app })).dataset;
    const dsFp = (await deploySampleDataset(s.stack, { restrictApp: noSum.app })).dataset;
    const evil = (await import('../../src/sdk/stack/sample.js')).SAMPLE_APP_SCRIPT.replace(
      'set -e',
      'set -e\ncat "$IEXEC_IN/$IEXEC_DATASET_FILENAME" > /tmp/leak || true',
    );
    const { buildSampleApp } = await import('../../src/sdk/stack/sample.js');
    await buildSampleApp({ dir, name: 'sum-app', script: evil });
    await buildSampleApp({ dir, name: 'fp-app', script: evil });
    const a = await runAndWait({ app: withSum.app, dataset: dsSum });
    assert.equal(a.worker?.step, 'failed');
    assert.equal(a.worker?.cause?.code, 'APP_IMAGE_CHECKSUM_MISMATCH');
    const b = await runAndWait({ app: noSum.app, dataset: dsFp });
    assert.equal(b.worker?.step, 'failed');
    assert.equal(b.worker?.cause?.code, 'APP_IMAGE_TAMPERED');
    assert.match(b.worker?.cause?.message ?? '', /FSPF key, FSPF tag differ/);
    // The SMS never opened a session for these tasks: nothing was released.
    for (const t of [a, b]) assert.deepEqual(await s.stack.sms.store.listAudit({ taskId: t.taskId }), []);
    // After the final deadline the worker claims the failed tasks (FAILED on chain).
    await s.chain.increaseTime(3001);
    const c = s.stack.chain.clients;
    // The marker: both tasks journaled as claimed (the worker does so once `claim` is mined).
    await waitUntil(
      () => [a, b].every((t) => s.stack.worker!.journal.get(t.taskId)?.step === 'claimed'),
      'both failed tasks claimed by the worker',
    );
    const statuses = await Promise.all(
      [a, b].map(async (t) => (await readTask(c.publicClient, c.deployment.hub, t.taskId)).status),
    );
    assert.deepEqual(statuses, [TaskStatus.FAILED, TaskStatus.FAILED]);
  });
});
