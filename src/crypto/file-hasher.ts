import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of a file that is still being written, computed on a worker thread so that hashing
 * overlaps with the writer's own work (e.g. encryption on the main thread). The writer calls
 * `advance(n)` once the first `n` bytes are written; the worker reads them back (from the page
 * cache) into one reused buffer and hashes them. `finish(n)` resolves to the hex digest.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.path, 'r');
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(1 << 20);
let pos = 0;
parentPort.on('message', (m) => {
  try {
    while (pos < m.upTo) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, m.upTo - pos), pos);
      if (n === 0) throw new Error('file shorter than announced');
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    if (m.final) {
      closeSync(fd);
      parentPort.postMessage({ digest: hash.digest('hex') });
    }
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
});
`;

export interface GrowingFileHasher {
  advance(upTo: number): void;
  finish(size: number): Promise<string>;
  close(): Promise<void>;
}

export function growingFileHasher(path: string): GrowingFileHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
  const result = new Promise<string>((resolve, reject) => {
    worker.on('message', (m: { digest?: string; error?: string }) =>
      m.digest ? resolve(m.digest) : reject(new Error(`hashing ${path}: ${m.error}`)),
    );
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`hash worker exited (${code})`)));
  });
  result.catch(() => {}); // observed by finish(); never an unhandled rejection
  return {
    advance(upTo) {
      worker.postMessage({ upTo });
    },
    async finish(size) {
      worker.postMessage({ upTo: size, final: true });
      try {
        return await result;
      } finally {
        await worker.terminate();
      }
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** In-thread fallback with the same interface, for small files (no worker start-up cost). */
export function inlineHasher(): GrowingFileHasher & { update(chunk: Uint8Array): void } {
  const hash = createHash('sha256');
  return {
    update: (chunk) => void hash.update(chunk),
    advance() {},
    finish: async () => hash.digest('hex'),
    close: async () => {},
  };
}
