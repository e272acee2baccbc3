/**
 * A real OCI Distribution registry for tests: Debian's `docker-registry` (CNCF Distribution) on
 * 127.0.0.1 with TLS (a self-signed certificate whose CA skopeo reads from `certDir/ca.crt`),
 * storage under a temporary folder. `const r = await startRegistry(dir); after(r.stop)`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { httpCall } from '../../src/worker/fetch.js';

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Folder holding `ca.crt` (skopeo's --cert-dir). */
  certDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(dir: string): Promise<TestRegistry> {
  const certDir = join(dir, 'certs');
  await fs.mkdir(certDir, { recursive: true });
  const { cert, key } = await generateSelfSignedCert(['127.0.0.1'], 'sealwork test registry');
  await fs.writeFile(join(certDir, 'ca.crt'), cert);
  await fs.writeFile(join(dir, 'registry.key'), key, { mode: 0o600 });
  const port = await freePort();
  const config = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  tls:
    certificate: ${join(certDir, 'ca.crt')}
    key: ${join(dir, 'registry.key')}
`;
  await fs.writeFile(join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = new URL(`https://127.0.0.1:${port}/v2/`);
  for (let i = 0; ; i++) {
    const ok = await httpCall(url, { ca: [cert], timeoutMs: 2000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || i > 200) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    certDir,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
