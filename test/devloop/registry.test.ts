/**
 * `app push` to a real OCI registry (Debian's docker-registry over TLS on 127.0.0.1) through
 * skopeo, and the worker's pull of `<registry>/<name>@sha256:…`: digest checked against the
 * reference and the on-chain checksum, cached by digest, a moved tag refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appImageDeployment } from '../../src/sdk/chain/assets.js';
import { pushApp } from '../../src/sdk/enclave/devloop.js';
import { buildSampleApp } from '../../src/sdk/stack/sample.js';
import { fetchGuard } from '../../src/worker/egress.js';
import { appImageDigests, resolveAppImage } from '../../src/worker/image.js';
import { tempDir } from '../helpers/cli.js';
import { NEEDS_BUSYBOX, requires, type Prerequisite } from '../helpers/prereq.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const onPath = (cmd: string, pkg: string): Prerequisite => {
  let present = true;
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    present = false;
  }
  return { name: pkg, present, enable: `apt-get install -y ${pkg}` };
};

describe(
  'app push and the worker pull',
  {
    skip: requires('registry push/pull', [
      NEEDS_BUSYBOX,
      onPath('skopeo', 'skopeo'),
      onPath('docker-registry', 'docker-registry'),
    ]),
  },
  () => {
    let t: ReturnType<typeof tempDir>;
    let reg: TestRegistry;
    before(async () => {
      t = tempDir('sealwork-registry-');
      reg = await startRegistry(join(t.dir, 'registry'));
    });
    after(async () => {
      await reg?.stop();
      t.cleanup();
    });

    it('pushes, pins by digest, pulls and checks; a changed image under the same tag is refused', async () => {
      const a = await buildSampleApp({ dir: join(t.dir, 'a') });
      const pushed = await pushApp({ image: a.out, ref: `${reg.host}/hello:1`, certDir: reg.certDir });
      assert.equal(
        `0x${pushed.digest.slice('sha256:'.length)}`,
        a.checksum,
        'the registry keeps the manifest as built',
      );
      assert.equal(pushed.pinned, `${reg.host}/hello@${pushed.digest}`);
      const dep = await appImageDeployment(pushed.pinned);
      assert.equal(dep.checksum, a.checksum);

      const home = join(t.dir, 'worker-home');
      const policy = { registryCertDir: reg.certDir, fetch: { guard: fetchGuard(['127.0.0.1']) } };
      const path = await resolveAppImage(home, pushed.pinned, dep.checksum, policy);
      assert.ok((await appImageDigests(path, true)).includes(a.checksum.slice(2)));
      const st = await fs.stat(join(path, 'index.json'));
      assert.equal(
        await resolveAppImage(home, pushed.pinned, dep.checksum, policy),
        path,
        'cached by digest',
      );
      assert.equal((await fs.stat(join(path, 'index.json'))).mtimeMs, st.mtimeMs, 'not pulled again');

      // The same tag now names another image: the deployed digest and checksum no longer match it.
      const b = await buildSampleApp({ dir: join(t.dir, 'b'), script: '#!/bin/sh\necho changed\n' });
      const moved = await pushApp({ image: b.out, ref: `${reg.host}/hello:1`, certDir: reg.certDir });
      assert.notEqual(moved.digest, pushed.digest);
      await assert.rejects(resolveAppImage(home, moved.pinned, dep.checksum, policy), {
        code: 'APP_IMAGE_CHECKSUM_MISMATCH',
      });
      await assert.rejects(resolveAppImage(home, `${reg.host}/hello:1`, dep.checksum, policy), {
        code: 'APP_IMAGE_UNSUPPORTED',
      });
      // The registry is on a loopback address: refused unless the operator allows it.
      await assert.rejects(
        resolveAppImage(join(t.dir, 'other-home'), pushed.pinned, dep.checksum, {
          registryCertDir: reg.certDir,
        }),
        (e: any) => /FETCH|EGRESS|ADDRESS/.test(String(e.code)),
      );
      // No TLS trust for the registry: the pull fails, nothing is cached.
      await assert.rejects(
        resolveAppImage(join(t.dir, 'third-home'), pushed.pinned, dep.checksum, { fetch: policy.fetch }),
        { code: 'REGISTRY_FAILED' },
      );
    });
  },
);
