/**
 * "Write your first confidential app", as a new user does it with the local stack running, through
 * the real CLI: init python → app test → app build → app push (a real registry) → app deploy
 * --image <ref@digest> → app run --watch on an encrypted dataset with a requester secret → the
 * decrypted result → task logs. (The dataset owner's side uses the demo's helper.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deploySampleDataset } from '../../src/sdk/stack/demo.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { NEEDS_BWRAP, requires, type Prerequisite } from '../helpers/prereq.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTestStack } from '../helpers/stack.js';

const have = (cmd: string, pkg: string): Prerequisite => {
  let present = true;
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    execFileSync('dpkg-query', ['-W', 'python3-minimal', 'libpython3-stdlib'], { stdio: 'ignore' });
  } catch {
    present = false;
  }
  return { name: pkg, present, enable: `apt-get install -y ${pkg}` };
};

describe(
  'your first confidential app, end to end',
  {
    skip: requires('first app end to end', [
      NEEDS_BWRAP,
      have('skopeo', 'skopeo python3-minimal libpython3-stdlib'),
      have('docker-registry', 'docker-registry'),
    ]),
  },
  () => {
    let reg: TestRegistry;
    let t: ReturnType<typeof tempDir>;
    const saved = process.env.SEALWORK_REGISTRY_CERT_DIR;
    before(async () => {
      t = tempDir('sealwork-first-app-');
      reg = await startRegistry(join(t.dir, 'registry'));
      // The in-process worker trusts the registry's certificate (and may reach it: allowFetchHosts).
      process.env.SEALWORK_REGISTRY_CERT_DIR = reg.certDir;
    });
    after(async () => {
      if (saved === undefined) delete process.env.SEALWORK_REGISTRY_CERT_DIR;
      else process.env.SEALWORK_REGISTRY_CERT_DIR = saved;
      await reg?.stop();
      t?.cleanup();
    });

    it('init → test → build → push → deploy --image → run --watch → decrypted result → task logs', async () => {
      const stack = await startTestStack({ allowFetchHosts: [reg.host] });
      try {
        const env = { SEALWORK_CHAIN_URL: stack.stack.chain.url, SEALWORK_BASE_BUILDER: 'host' };
        const cli = async (args: string[], input?: string) => {
          const r = await runCli(['--home', stack.home, '--json', ...args], {
            env,
            timeoutMs: 240_000,
            ...(input !== undefined ? { input } : {}),
          });
          assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
          return JSON.parse(r.stdout);
        };
        const dir = join(stack.home, 'hello');
        await cli(['app', 'init', dir, '--template', 'python']);
        assert.equal((await cli(['app', 'test', dir])).run.exitCode, 0);
        const built = await cli(['app', 'build', dir]);
        const pushed = await cli(['app', 'push', dir, `${reg.host}/hello:1`, '--cert-dir', reg.certDir]);
        assert.equal(`0x${pushed.digest.slice(7)}`, built.checksum);
        const app = await cli([
          'app',
          'deploy',
          '--as',
          'app-dev',
          '--name',
          'hello',
          '--image',
          pushed.pinned,
          '--mrenclave',
          `@${built.mrenclaveFile}`,
          '--publish-order',
          '10',
        ]);
        assert.equal(app.checksum, built.checksum);
        assert.match(app.order.orderHash, /^0x[0-9a-f]{64}$/);
        const ds = await deploySampleDataset(stack.stack, {
          restrictApp: app.address,
          data: Buffer.from('a,b\n1,2\n3,4\n'),
        });
        await cli(
          ['requester', 'push-secret', 'api-key', '--stdin', '--as', 'requester'],
          'requester-token-1234',
        );
        await cli(['result', 'generate-key', '--out', join(stack.home, 'rk')]);
        await cli([
          'result',
          'push-key',
          '--as',
          'requester',
          '--public-key-file',
          join(stack.home, 'rk', 'result-key.pub.pem'),
        ]);
        const run = await cli([
          'app',
          'run',
          app.address,
          '--dataset',
          ds.dataset,
          '--secret',
          '1=api-key',
          '--args',
          'first app',
          '--encrypt-result',
          '--watch',
          '--timeout',
          '180',
          '--as',
          'requester',
          '--workerpool',
          stack.stack.workerpool,
        ]);
        const task = run.tasks[0];
        assert.equal(task.status, 'COMPLETED', JSON.stringify(task));
        const out = join(stack.home, 'result');
        await cli([
          'result',
          'download',
          task.taskId,
          '--decrypt',
          '--key',
          join(stack.home, 'rk', 'result-key.pem'),
          '--out',
          out,
        ]);
        const result = JSON.parse(await fs.readFile(join(out, 'result.json'), 'utf8'));
        assert.equal(result.greeting, 'Hello, first app!');
        assert.equal(result.dataset.rows, 3);
        assert.equal(result.dataset.first, 'a,b');
        assert.equal(result.requesterSecretLengths['1'], 'requester-token-1234'.length);
        const logs = await cli(['task', 'logs', task.taskId, '--as', 'requester']);
        assert.equal(logs.exitCode, 0);
        assert.match(logs.stdout, /wrote \/iexec_out\/result\.json: Hello, first app!/);
      } finally {
        await stack.stop();
      }
    });
  },
);
