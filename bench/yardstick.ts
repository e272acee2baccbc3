/**
 * The machine yardstick every benchmark prints beside its figures, so figures from different (and
 * noisy) hosts can be compared: ECDSA P-256 signs and verifies per second on one core.
 */
import { execFileSync } from 'node:child_process';

export function yardstick(): string {
  try {
    const out = execFileSync('openssl', ['speed', '-seconds', '1', 'ecdsap256'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const f = out
      .split('\n')
      .find((l) => /256 bits ecdsa/.test(l))
      ?.trim()
      .split(/\s+/);
    return f
      ? `${f[f.length - 2]} sign/s, ${f[f.length - 1]} verify/s ECDSA P-256 (openssl speed, 1 core)`
      : 'n/a';
  } catch {
    return 'n/a (openssl missing)';
  }
}
