import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Streaming crypto (cipher.update) returns a fresh Buffer per chunk. Those buffers are external
 * memory, which V8 only collects after tens of MiB of churn — enough to double the peak RSS of a
 * streaming encryption. `minorGc()` runs a cheap young-generation collection, which frees them.
 * It uses V8's gc extension (enabled at run time, as `--expose-gc` would); where that is
 * unavailable it does nothing and memory is merely higher.
 */
type GcFn = (options?: { type: 'minor' | 'major' }) => void;
let gcFn: GcFn | undefined | null = null;

export function minorGc(): void {
  if (gcFn === null) {
    gcFn = undefined;
    try {
      const existing = (globalThis as { gc?: GcFn }).gc;
      if (typeof existing === 'function') gcFn = existing;
      else {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as GcFn;
      }
    } catch {
      gcFn = undefined;
    }
  }
  gcFn?.({ type: 'minor' });
}
