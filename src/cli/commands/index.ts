import type { Command } from 'commander';
import { register as app } from './app.js';
import { register as attest } from './attest.js';
import { register as chain } from './chain.js';
import { register as dataset } from './dataset.js';
import { register as deal } from './deal.js';
import { register as dev } from './dev.js';
import { register as image } from './image.js';
import { register as order } from './order.js';
import { register as requester } from './requester.js';
import { register as result } from './result.js';
import { register as secret } from './secret.js';
import { register as sms } from './sms.js';
import { register as storage } from './storage.js';
import { register as task } from './task.js';
import { register as wallet } from './wallet.js';
import { register as worker } from './worker.js';
import { register as workerpool } from './workerpool.js';

/** One file per command group; the order here is the order in `--help`. */
export function registerAll(program: Command): void {
  dataset(program);
  chain(program);
  wallet(program);
  app(program);
  image(program);
  workerpool(program);
  order(program);
  deal(program);
  task(program);
  attest(program);
  sms(program);
  requester(program);
  result(program);
  secret(program);
  storage(program);
  worker(program);
  dev(program);
}
