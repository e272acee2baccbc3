import type { ProgressFn } from '../sdk/dataset.js';

function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * A one-line progress bar on stderr, only when it is a TTY (never with --json).
 * Returns the callback to feed and a `done()` that clears the line.
 */
export function progressBar(label: string, enabled: boolean): { update: ProgressFn; done: () => void } {
  if (!enabled) return { update: () => {}, done: () => {} };
  const start = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      if (!shown && now - start < 300) return; // short jobs show nothing
      last = now;
      shown = true;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const width = 30;
      const filled = Math.round(ratio * width);
      const rate = done / 1024 / 1024 / Math.max(0.001, (now - start) / 1000);
      process.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ` +
          `${fmtBytes(done)}/${fmtBytes(total)} ${rate.toFixed(0)} MiB/s`,
      );
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}
