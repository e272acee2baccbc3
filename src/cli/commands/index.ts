import type { Command } from 'commander';
import { register as attest } from './attest.js';
import { register as chain } from './chain.js';
import { register as dataset } from './dataset.js';
import { register as dev } from './dev.js';
import { register as enclave } from './enclave.js';
import { register as sms } from './sms.js';
import { register as worker } from './worker.js';

/** Every domain adds its commands; order here is the order in `--help`. */
export function registerAll(program: Command): void {
  dataset(program);
  chain(program);
  enclave(program);
  attest(program);
  sms(program);
  worker(program);
  dev(program);
}
