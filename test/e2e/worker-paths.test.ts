/**
 * The worker's failure and retry paths, executed on real parts (anvil, the SMS, the storage,
 * bubblewrap, a dataset host on 127.0.0.1 whose answers the test controls):
 *   - a transient failure (the dataset host answers 503 once): retried with backoff, then completed;
 *   - retries exhausted (the host never answers well): FAILED with DATASET_DOWNLOAD_FAILED, journaled;
 *   - a dataset that does not decrypt with the SMS's key: FAILED with DATASET_DECRYPT_FAILED;
 * and in every failed case nothing of the run is left on the host.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import {
  createDataset,
  createDatasetOrder,
  devAccountByName,
  publishOrder,
  signOrder,
} from '../../src/chain/index.js';
import { decryptDatasetBuffer, generateDatasetKey } from '../../src/crypto/dataset.js';
import { createChainClientsFor } from '../../src/sdk/stack/index.js';
import { deploySampleApp, deploySampleDataset } from '../../src/sdk/stack/demo.js';
import { runApp, watchTask, type TaskInfo } from '../../src/sdk/worker/requester.js';
import type { WorkerEvent } from '../../src/sdk/worker/worker.js';
import { createSmsClient } from '../../src/sms-client/index.js';
import { fetchBytes } from '../../src/worker/fetch.js';
import { NEEDS_BUSYBOX, NEEDS_BWRAP, requires } from '../helpers/prereq.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { runFoldersOf } from '../helpers/worker-proc.js';

const skip = requires('worker failure and retry paths', [NEEDS_BWRAP, NEEDS_BUSYBOX]);

describe('worker failure and retry paths', { skip }, () => {
  let s: TestStack;
  let app: Address;
  const events: WorkerEvent[] = [];
  // The dataset host: path → bytes, and how many more requests of that path answer 503.
  const served = new Map<string, { body: Buffer; failures: number; hits: number }>();
  let host: Server;
  let hostUrl: string;

  const runAndWait = async (dataset: Address): Promise<TaskInfo> => {
    const r = await runApp({
      home: s.home,
      chainUrl: s.stack.chain.url,
      as: 'requester',
      app,
      dataset,
      workerpool: s.stack.workerpool,
    });
    return watchTask({
      home: s.home,
      chainUrl: s.stack.chain.url,
      taskId: r.taskIds[0]!,
      timeoutMs: 90_000,
      pollMs: 100,
    });
  };
  const eventsOf = (taskId: Hex) => events.filter((e) => e.taskId?.toLowerCase() === taskId.toLowerCase());
  /** Nothing of a task's run is left: no run folder of this process, no scratch output. */
  const nothingLeft = () => {
    assert.deepEqual(runFoldersOf(process.pid), []);
    assert.deepEqual(
      readdirSync(join(s.home, 'worker', 'tmp')).filter((n) => n.startsWith('out-')),
      [],
    );
  };
  /** A dataset deployed at the test host under `name`, its encrypted bytes served from there. */
  const hostedDataset = async (name: string, failures: number): Promise<Address> => {
    const ds = await deploySampleDataset(s.stack, { restrictApp: app, multiaddr: `${hostUrl}/${name}` });
    const body = await fetchBytes(ds.storedUrl, { ca: [readFileSync(s.stack.storage.certPath!, 'utf8')] });
    served.set(`/${name}`, { body, failures, hits: 0 });
    return ds.dataset;
  };

  before(async () => {
    host = createServer((req, res) => {
      const f = served.get(req.url ?? '');
      if (!f) return void res.writeHead(404).end();
      f.hits++;
      if (f.failures > 0) {
        f.failures--;
        return void res.writeHead(503).end('busy');
      }
      res.writeHead(200).end(f.body);
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as AddressInfo).port;
    hostUrl = `http://127.0.0.1:${port}`;
    s = await startTestStack({ allowFetchHosts: [`127.0.0.1:${port}`], onEvent: (e) => events.push(e) });
    app = (await deploySampleApp(s.stack, { dir: join(s.home, 'apps') })).app;
  });
  after(async () => {
    await s?.stop();
    host?.close();
  });

  it('a transient failure (the dataset host answers 503 once) is retried after a backoff, and the task completes', async () => {
    const dataset = await hostedDataset('once.enc', 1);
    const t = await runAndWait(dataset);
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t.worker));
    assert.equal(served.get('/once.enc')!.hits, 2);
    const retry = eventsOf(t.taskId).filter((e) => e.kind === 'error');
    assert.equal(retry.length, 1);
    assert.match(
      retry[0]!.detail ?? '',
      /^retrying later: \[DATASET_DOWNLOAD_FAILED\] Cannot download dataset/,
    );
    const kinds = eventsOf(t.taskId).map((e) => e.kind);
    assert.deepEqual(kinds.slice(kinds.indexOf('error')), [
      'error',
      'computing',
      'computed',
      'contributing',
      'completed',
    ]);
    // Both runs counted in the journal: the failed one, and the one that completed.
    const rec = s.stack.worker!.journal.get(t.taskId);
    assert.equal(rec?.step, 'completed');
    assert.equal(rec?.attempts, 2);
    nothingLeft();
  });

  it('retries exhausted (the dataset host never answers well): FAILED with DATASET_DOWNLOAD_FAILED, journaled with its cause', async () => {
    const dataset = await hostedDataset('never.enc', Number.POSITIVE_INFINITY);
    const t = await runAndWait(dataset);
    // watchTask returns on the journal's failed step: the task is still ACTIVE on chain.
    assert.equal(t.status, 'ACTIVE');
    assert.equal(t.worker?.step, 'failed');
    assert.equal(t.worker?.cause?.code, 'DATASET_DOWNLOAD_FAILED');
    assert.equal(served.get('/never.enc')!.hits, 3);
    const mine = eventsOf(t.taskId);
    assert.equal(mine.filter((e) => e.kind === 'error' && /^retrying later/.test(e.detail ?? '')).length, 2);
    const failed = mine.filter((e) => e.kind === 'failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.cause?.code, 'DATASET_DOWNLOAD_FAILED');
    const h = s.stack.worker!.journal.history(t.taskId);
    assert.equal(h.at(-1)?.step, 'failed');
    assert.match(h.at(-1)?.note ?? '', /^DATASET_DOWNLOAD_FAILED: Cannot download dataset/);
    nothingLeft();
  });

  it('a dataset that does not decrypt with the key from the SMS: FAILED with DATASET_DECRYPT_FAILED, no plaintext left', async () => {
    const good = await deploySampleDataset(s.stack, { restrictApp: app });
    const enc = await fetchBytes(good.storedUrl, { ca: [readFileSync(s.stack.storage.certPath!, 'utf8')] });
    // A key under which these bytes do not decrypt (AES-CBC: the padding check refuses it).
    let wrong = generateDatasetKey();
    const decrypts = (k: string) => {
      try {
        decryptDatasetBuffer(enc, k);
        return true;
      } catch {
        return false;
      }
    };
    while (decrypts(wrong)) wrong = generateDatasetKey();
    // The same file (its checksum is right), registered as another dataset with the wrong key.
    const owner = devAccountByName('dataset-owner');
    const c = await createChainClientsFor(s.home, s.stack.chain.url, owner);
    const w = { publicClient: c.publicClient, walletClient: c.walletClient, deployment: c.deployment };
    const { address: dataset } = await createDataset(w, {
      name: 'wrong-key',
      multiaddr: good.url,
      checksum: good.checksum,
    });
    await createSmsClient(s.stack.sms.url, { ca: s.stack.sms.cert }).pushDatasetSecret(owner, dataset, wrong);
    const order = await signOrder(
      c.walletClient!,
      { chainId: c.deployment.chainId, hub: c.deployment.hub },
      'dataset',
      createDatasetOrder({ dataset, apprestrict: app, volume: 10n }),
    );
    await publishOrder(w, 'dataset', order);
    const t = await runAndWait(dataset);
    assert.equal(t.worker?.step, 'failed');
    assert.deepEqual(t.worker?.cause, {
      code: 'DATASET_DECRYPT_FAILED',
      message: `Dataset ${dataset} does not decrypt with the key from the SMS.`,
      details: { dataset },
    });
    // Not a transient failure: no retry.
    assert.deepEqual(
      eventsOf(t.taskId).filter((e) => e.kind === 'error'),
      [],
    );
    nothingLeft();
  });
});
