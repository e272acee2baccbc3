import type { Command } from 'commander';
import { registerRun } from './worker-run.js';
import { registerStorage } from './worker-storage.js';

/** Storage, worker and requester commands (issue 7). */
export function register(program: Command): void {
  registerStorage(program);
  registerRun(program);
}
