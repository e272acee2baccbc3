import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The state folder: explicit option, then SEALWORK_HOME, then ~/.sealwork. */
export function resolveHome(explicit?: string): string {
  const chosen = explicit ?? process.env.SEALWORK_HOME;
  return chosen && chosen.length > 0 ? resolve(chosen) : join(homedir(), '.sealwork');
}
