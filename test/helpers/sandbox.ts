/**
 * A busybox enclave app built for sandbox tests, with its own memory folder (SEALWORK_SHM_DIR, so
 * a test can check it is wiped while other files run in parallel) and staging folder
 * (SEALWORK_SANDBOX_STAGE), both reachable by the run's dedicated uid when the tests run as root.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type BuildAppReturnType, type RunEnclaveParameters } from '../../src/enclave/index.js';
import { tempDir } from './cli.js';
import { busyboxImage } from './images.js';

export interface SandboxApp {
  dir: string;
  shm: string;
  stage: string;
  app: BuildAppReturnType;
  /** runEnclave's parameters for `args`: the app, its keys, a new output folder, a 20 s timeout. */
  params(args: string[], over?: Partial<RunEnclaveParameters>): RunEnclaveParameters;
  cleanup(): void;
}

export async function sandboxApp(p: {
  prefix: string;
  script: string;
  secret: string;
  heap: string;
}): Promise<SandboxApp> {
  const t = tempDir(p.prefix);
  const shm = mkdtempSync('/dev/shm/sealwork-test-');
  chmodSync(shm, 0o711);
  const stage = mkdtempSync('/var/tmp/sealwork-test-stage-');
  chmodSync(stage, 0o711);
  process.env.SEALWORK_SHM_DIR = shm;
  process.env.SEALWORK_SANDBOX_STAGE = stage;
  const src = await busyboxImage(join(t.dir, 'src'), [
    { name: 'app/', type: 'directory' },
    { name: 'app/run.sh', data: p.script, mode: 0o755 },
    { name: 'data/', type: 'directory' },
    { name: 'data/secret.txt', data: p.secret },
  ]);
  const app = await buildApp({
    image: src,
    out: join(t.dir, 'app'),
    entrypoint: '/app/run.sh',
    heap: p.heap,
    regions: ['/:authenticated', '/data:encrypted'],
    home: t.dir,
    workDir: t.dir,
  });
  rmSync(src, { recursive: true }); // the source image holds the plaintext; the protected one must not
  let n = 0;
  return {
    dir: t.dir,
    shm,
    stage,
    app,
    params: (args, over = {}) => ({
      image: app.out,
      fspfKey: app.fspfKey,
      fspfTag: app.fspfTag,
      fsKeyFile: app.fsKeyFile,
      outDir: join(t.dir, `out-${n++}`),
      workDir: t.dir,
      args,
      timeoutMs: 20_000,
      ...over,
    }),
    cleanup() {
      delete process.env.SEALWORK_SHM_DIR;
      delete process.env.SEALWORK_SANDBOX_STAGE;
      rmSync(shm, { recursive: true, force: true });
      rmSync(stage, { recursive: true, force: true });
      t.cleanup();
    },
  };
}
