/**
 * The developer loop as a new user runs it, through the real CLI: `app init` for each template,
 * `app test` (sample dataset encrypted and decrypted through the worker's pre-compute, mock
 * secrets, args and input files, in the sandbox), `app build` from the Dockerfile; and the
 * failures a user meets (no computed.json, a write outside /iexec_out, RUN in the Dockerfile).
 * Base images are built from the host's Debian packages here (SEALWORK_BASE_BUILDER=host): the
 * mmdebstrap builder needs the Debian mirror and is exercised by `npm run bench:build`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { measureApp } from '../../src/enclave/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { NEEDS_BWRAP, requires, type Prerequisite } from '../helpers/prereq.js';

function debPackages(names: string[]): Prerequisite {
  let present = true;
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}\n', ...names], {
      encoding: 'utf8',
    });
    present = out
      .split('\n')
      .filter(Boolean)
      .every((l) => l.startsWith('ii'));
  } catch {
    present = false;
  }
  return { name: names.join(', '), present, enable: `apt-get install -y ${names.join(' ')}` };
}

const NEEDS_RUNTIMES = debPackages(['python3-minimal', 'libpython3-stdlib', 'nodejs', 'busybox-static']);

describe(
  'app init → app test → app build, per template',
  { skip: requires('the developer loop', [NEEDS_BWRAP, NEEDS_RUNTIMES]) },
  () => {
    let t: ReturnType<typeof tempDir>;
    let env: Record<string, string>;
    const cli = (args: string[]) => runCli([...args, '--json'], { env, timeoutMs: 180_000 });
    before(() => {
      t = tempDir('sealwork-devloop-');
      env = { SEALWORK_HOME: join(t.dir, 'home'), SEALWORK_BASE_BUILDER: 'host' };
    });
    after(() => t.cleanup());

    for (const template of ['python', 'node', 'shell'] as const) {
      it(`${template}: the untouched template tests and builds`, async () => {
        const dir = join(t.dir, `my-${template}`);
        const init = await cli(['app', 'init', dir, '--template', template]);
        assert.equal(init.code, 0, init.stdout + init.stderr);
        const files = JSON.parse(init.stdout).files as string[];
        for (const f of ['Dockerfile', 'README.md', 'sealwork.json', 'sample/dataset.csv'])
          assert.ok(files.includes(f), f);
        const settings = JSON.parse(await fs.readFile(join(dir, 'sealwork.json'), 'utf8'));
        assert.equal(settings.name, `my-${template}`);

        const test = await cli(['app', 'test', dir]);
        assert.equal(test.code, 0, test.stdout + test.stderr);
        const r = JSON.parse(test.stdout);
        assert.equal(r.run.exitCode, 0, r.run.stderr);
        assert.match(r.run.stdout, /Hello, sealwork!/);
        assert.match(r.resultDigest, /^0x[0-9a-f]{64}$/);
        assert.equal(r.inputs.dataset, 'dataset.csv');
        assert.deepEqual(r.inputs.inputFiles, ['input.txt']);
        const secret: string = settings.test.requesterSecrets['1'];
        assert.ok(
          !test.stdout.includes(secret) && !test.stderr.includes(secret),
          'no secret value is printed',
        );
        const written = await fs.readFile(
          join(dir, 'build', 'test-out', r.computed.deterministicOutputPath.slice('/iexec_out/'.length)),
          'utf8',
        );
        assert.equal(written, r.result);
        if (template === 'shell') {
          assert.match(written, /dataset: dataset.csv, 4 lines/);
          assert.match(written, /requester secret 1: present/);
        } else {
          const out = JSON.parse(written);
          assert.equal(out.dataset.rows, 4, 'the dataset was decrypted into /iexec_in');
          assert.equal(out.dataset.first, 'patient,age,glucose');
          assert.deepEqual(out.inputFiles, [{ name: 'input.txt', bytes: 14 }]);
          assert.equal(out.requesterSecretLengths['1'], secret.length);
          assert.equal(out.appSecretLength, settings.test.appSecret.length);
        }

        const build = await cli(['app', 'build', dir]);
        assert.equal(build.code, 0, build.stdout + build.stderr);
        const b = JSON.parse(build.stdout);
        assert.equal(b.baseBuilt, false, 'the base image built by app test is reused');
        assert.equal(b.base, template);
        assert.deepEqual(JSON.parse(await fs.readFile(b.mrenclaveFile, 'utf8')), b.mrenclaveJson);
        assert.equal(b.mrenclaveJson.entrypoint, settings.enclave.entrypoint);
        assert.equal((await measureApp(b.out, { workDir: t.dir })).fingerprint, b.fingerprint);
      });
    }

    it('fails clearly when the app writes no computed.json, or writes outside /iexec_out', async () => {
      const dir = join(t.dir, 'broken');
      assert.equal((await cli(['app', 'init', dir, '--template', 'shell'])).code, 0);
      const app = join(dir, 'app.sh');
      const original = await fs.readFile(app, 'utf8');
      await fs.writeFile(app, original.replace(/^printf .*computed\.json.*$/m, ''));
      let r = await cli(['app', 'test', dir]);
      assert.notEqual(r.code, 0);
      assert.equal(JSON.parse(r.stdout).error.code, 'APP_TEST_FAILED');
      assert.equal(JSON.parse(r.stdout).error.details.cause, 'COMPUTED_JSON_MISSING');

      await fs.writeFile(app, original.replace('result="$out/result.txt"', 'result="/app/result.txt"'));
      r = await cli(['app', 'test', dir]);
      assert.notEqual(r.code, 0);
      assert.equal(JSON.parse(r.stdout).error.code, 'APP_TEST_FAILED');
      assert.match(JSON.parse(r.stdout).error.message, /exited with status [1-9]/);

      await fs.writeFile(join(dir, 'Dockerfile'), 'FROM sealwork/shell\nRUN apk add curl\n');
      r = await cli(['app', 'build', dir]);
      assert.equal(JSON.parse(r.stdout).error.code, 'DOCKERFILE_UNSUPPORTED');
      assert.match(JSON.parse(r.stdout).error.message, /line 2: RUN/);
    });
  },
);
