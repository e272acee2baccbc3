/**
 * Test prerequisites, and no silent skips: a suite whose prerequisite is missing is skipped with a
 * printed line saying what and how to enable it — except under CI (`CI` set), where a missing
 * prerequisite fails the run (CI installs everything the suite needs, see .ci/run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Prerequisite {
  /** What is needed, e.g. `bubblewrap`. */
  name: string;
  present: boolean;
  /** How to get it, e.g. `apt-get install -y bubblewrap`. */
  enable: string;
}

/** `false` when every prerequisite is present; otherwise the skip reason (outside CI) or a throw (CI). */
export function requires(suite: string, needs: Prerequisite[]): false | string {
  const missing = needs.filter((n) => !n.present);
  if (missing.length === 0) return false;
  const reason = missing.map((m) => `${m.name} (${m.enable})`).join(', ');
  if (process.env.CI) throw new Error(`CI: "${suite}" cannot run: missing ${reason}.`);
  console.error(`skipped: "${suite}": missing ${reason}`);
  return `missing ${missing.map((m) => m.name).join(', ')}`;
}

function onPath(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const NEEDS_BWRAP: Prerequisite = {
  name: 'bubblewrap',
  present: onPath('bwrap', ['--version']),
  enable: 'apt-get install -y bubblewrap',
};
export const NEEDS_BUSYBOX: Prerequisite = {
  name: 'busybox-static',
  present: existsSync('/bin/busybox'),
  enable: 'apt-get install -y busybox-static',
};
export const NEEDS_ROOT: Prerequisite = {
  name: 'root',
  present: process.getuid?.() === 0,
  enable: 'run the tests as root: the network shield joins a network namespace and drops to a dedicated uid',
};
