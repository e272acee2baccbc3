/**
 * Enclave runtime figures: MrEnclave hashing throughput, protected-image build time, and the
 * start-to-exit latency of a sandboxed run (unpack + FSPF check + bwrap). Prints figures only.
 * Run: node --import tsx bench/enclave.ts
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, computeMrEnclave, openImage, runEnclave, unpackImage } from '../src/enclave/index.js';
import { busyboxImage, nodeImage } from '../test/helpers/images.js';

const dir = mkdtempSync(join(tmpdir(), 'sealwork-bench-enclave-'));
try {
  const node = readFileSync(realpathSync(process.execPath));
  const cfg = {
    entrypoint: ['node', '/app/index.js'],
    heapSize: 1 << 30,
    stackSize: 8 << 20,
    threads: 8,
    debug: false,
  };
  let t = performance.now();
  computeMrEnclave(node, cfg);
  let ms = performance.now() - t;
  console.log(
    `MrEnclave of the node binary (${(node.length / 2 ** 20).toFixed(1)} MiB): ${ms.toFixed(0)} ms, ${(node.length / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`,
  );

  const src = await busyboxImage(join(dir, 'src'), [
    { name: 'app/', type: 'directory' },
    { name: 'app/run.sh', data: '#!/bin/sh\ncat /data/x > /iexec_out/y\n', mode: 0o755 },
    { name: 'data/', type: 'directory' },
    { name: 'data/x', data: Buffer.alloc(4 << 20, 7) },
  ]);
  const builds: number[] = [];
  let app;
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    app = await buildApp({
      image: src,
      out: join(dir, `app${i}`),
      entrypoint: '/app/run.sh',
      regions: ['/:authenticated', '/data:encrypted'],
      home: dir,
      workDir: dir,
    });
    builds.push(performance.now() - t);
  }
  console.log(
    `app build (busybox 1.9 MiB + 4 MiB encrypted): median ${builds.sort((a, b) => a - b)[1]!.toFixed(0)} ms`,
  );
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    const r = await runEnclave({
      image: app!.out,
      fspfKey: app!.fspfKey,
      fspfTag: app!.fspfTag,
      fsKeyFile: app!.fsKeyFile,
      outDir: join(dir, `out${i}`),
      workDir: dir,
    });
    if (r.exitCode !== 0) throw new Error(r.stderr);
    runs.push(performance.now() - t);
  }
  runs.sort((a, b) => a - b);
  ms = runs[2]!;
  console.log(
    `runEnclave start-to-exit (unpack, verify ${app!.files} files, decrypt 4 MiB, bwrap): median ${ms.toFixed(0)} ms (min ${runs[0]!.toFixed(0)}, max ${runs[4]!.toFixed(0)})`,
  );

  // A ~100 MB Node.js image: how much of a run is unpacking (what a cache of unpacked images
  // would save; verification and decryption would still run every time).
  const nodeSrc = await nodeImage(join(dir, 'node-src'), [
    { name: 'app/', type: 'directory' },
    { name: 'app/index.js', data: 'console.log(1)\n' },
  ]);
  const nodeApp = await buildApp({
    image: nodeSrc,
    out: join(dir, 'node-app'),
    entrypoint: 'node /app/index.js',
    home: dir,
    workDir: dir,
  });
  const unpacks: number[] = [];
  const nodeRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    const nr = await runEnclave({
      image: nodeApp.out,
      fspfKey: nodeApp.fspfKey,
      fspfTag: nodeApp.fspfTag,
      outDir: join(dir, `node-out${i}`),
      workDir: dir,
    });
    if (nr.exitCode !== 0) throw new Error(nr.stderr);
    nodeRuns.push(performance.now() - t);
    t = performance.now();
    const opened = await openImage(nodeApp.out, { workDir: dir });
    const root = join(dir, `node-root${i}`);
    mkdirSync(root);
    await unpackImage(opened, root);
    await opened.cleanup();
    unpacks.push(performance.now() - t);
    rmSync(root, { recursive: true, force: true });
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[1]!.toFixed(0);
  console.log(
    `Node.js image (${nodeApp.files} files): runEnclave median ${med(nodeRuns)} ms; unpacking alone median ${med(unpacks)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
