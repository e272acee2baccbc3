/**
 * The worker: scheduler + worker of one workerpool. Watches SchedulerNotice for its workerpool,
 * records every task of every deal in the journal, and drives each task through
 * initialize → TEE run (attested session, pre-compute, app, post-compute, upload, enclave signature)
 * → contributeAndFinalize, with N concurrent slots. Failed tasks are claimed after their final
 * deadline. Every step is journaled first, so a restart resumes where it stopped.
 */
import {
  HttpRequestError,
  hexToString,
  stringToHex,
  TimeoutError,
  type Address,
  type Hex,
  type LocalAccount,
} from 'viem';
import {
  chainWriterFor,
  claimTask,
  computeTaskId,
  contributeAndFinalize,
  getBlockHash,
  getChainTime,
  getReceiptStatus,
  initializeTask,
  isTeeTag,
  readDeal,
  readSchedulerNotices,
  readTask,
  TaskStatus,
  taskStatusName,
  type ChainClients,
  type ChainWriter,
  type Deal,
  type Task,
} from '../chain/index.js';
import { isSealworkError, SealworkError, type ErrorCode } from '../errors.js';
import type { ComputedResult, FailureCause, TaskJournal, TaskRecord } from './journal.js';

/** Enclave runs of one task interrupted by restarts before the worker gives up on it. */
export const MAX_ATTEMPTS = 3;

export interface WorkerEvent {
  kind:
    | 'deal'
    | 'task-new'
    | 'initialized'
    | 'computing'
    | 'computed'
    | 'contributing'
    | 'completed'
    | 'failed'
    | 'claimed'
    /** The chain does not answer: nothing is scheduled until it does (cause CHAIN_UNREACHABLE). */
    | 'waiting'
    /** The chain answers again after a `waiting`: the journaled tasks are driven again. */
    | 'resumed'
    | 'error';
  taskId?: Hex;
  dealId?: Hex;
  detail?: string;
  cause?: FailureCause;
}

/** The TEE part of a task (enclave side): returns the signed, uploaded result. */
export type RunTeeTask = (p: {
  taskId: Hex;
  deal: Deal;
  index: bigint;
  worker: Address;
  signal: AbortSignal;
}) => Promise<ComputedResult>;

/** The chain a worker reads and writes: a public client, the deployment, and the URL its wallets use. */
export type WorkerChainClients = Pick<ChainClients, 'url' | 'chain' | 'publicClient' | 'deployment'>;

export interface WorkerOptions {
  chain: WorkerChainClients;
  journal: TaskJournal;
  workerpool: Address;
  /** The workerpool owner: initializes tasks, signs authorizations and challenge requests. */
  scheduler: LocalAccount;
  /** The worker wallet that contributes (default: the scheduler). */
  worker?: LocalAccount;
  runTee: RunTeeTask;
  /** Concurrent tasks (default 2). */
  slots?: number;
  /** Chain polling period (default 300 ms). */
  pollMs?: number;
  onEvent?: (e: WorkerEvent) => void;
}

/** Failures that say a service was unreachable, not that the task is wrong: retried with backoff. */
const TRANSIENT_CODES = new Set<ErrorCode>([
  'SMS_UNREACHABLE',
  'CHAIN_UNREACHABLE',
  // The SMS answered 503: it could not read the chain.
  'CHAIN_UNAVAILABLE',
  'RESULT_UPLOAD_FAILED',
  'DATASET_DOWNLOAD_FAILED',
  'INPUT_FILE_DOWNLOAD_FAILED',
  'APP_IMAGE_DOWNLOAD_FAILED',
]);

/**
 * Node's errno codes (and undici's) of a connection that could not be made or broke: the network
 * failed, not the task.
 */
const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Is this a network failure: a viem HTTP or timeout error, or a Node/undici socket errno, anywhere in its causes? */
function isNetworkFailure(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 8) return false;
  if (e instanceof HttpRequestError || e instanceof TimeoutError) return true;
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && NETWORK_ERRNO.has(code)) return true;
  if (e instanceof AggregateError && e.errors.some((x) => isNetworkFailure(x, depth + 1))) return true;
  return isNetworkFailure((e as { cause?: unknown }).cause, depth + 1);
}

/**
 * Should a failed step be retried later? A SealworkError is transient by its code (a service was
 * unreachable); any other error (WORKER_INTERNAL) when it is a network failure, by class or errno.
 */
export function isTransient(e: unknown): boolean {
  if (isSealworkError(e)) return TRANSIENT_CODES.has(e.code);
  return isNetworkFailure(e);
}

/** The failure cause of an error: its stable code and message (no secret values in either). */
export function causeOf(e: unknown): FailureCause {
  if (isSealworkError(e))
    return {
      code: e.code,
      message: e.shortMessage,
      ...(e.details ? { details: e.details } : {}),
    };
  return { code: 'WORKER_INTERNAL', message: (e as Error)?.message ?? String(e) };
}

/**
 * A transaction the chain refused, as the worker journals it: the decoded code, and a message
 * naming the call (e.g. `initialize(0x…, 0) was refused by the chain: …`).
 */
function refused(what: string, call: string, e: unknown): SealworkError {
  const d = causeOf(e);
  const code: ErrorCode = isSealworkError(e) ? e.code : 'WORKER_INTERNAL';
  return new SealworkError(code, `${what} was refused by the chain: ${d.message}`, {
    details: { call, ...d.details },
    cause: e,
  });
}

/** The results field of a task as text (a URL as UTF-8 bytes), the hex itself if not UTF-8. */
function resultsText(t: Task): string {
  try {
    return hexToString(t.results);
  } catch {
    return t.results;
  }
}

/** What a step of a task did: the task moved on (drive it again), or it is done for now. */
type StepOutcome = 'next' | 'stop';

/** The journal key of the block cursor of a workerpool. */
export function cursorKey(workerpool: Address): string {
  return `cursor:${workerpool.toLowerCase()}`;
}

/** A cursor is `<next block>:<hash of the block before it>` (or only `<next block>`). */
function parseCursor(v: string | undefined): { next: bigint; hash: string | undefined } {
  const [n, hash] = (v ?? '0').split(':');
  return { next: BigInt(n ?? '0'), hash };
}

export class Worker {
  private o: Required<Omit<WorkerOptions, 'onEvent' | 'worker'>> &
    Pick<WorkerOptions, 'onEvent'> & { worker: LocalAccount };
  private running = new Map<string, Promise<void>>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private abort = new AbortController();
  private lastClaimCheck = 0;
  private retries = new Map<string, number>();
  private notBefore = new Map<string, number>();
  /** Tasks whose enclave run is under way and counted as an attempt in the journal. */
  private counted = new Set<string>();
  /** Set while the chain does not answer (what the `waiting` event said); nothing is scheduled meanwhile. */
  private chainDown: FailureCause | undefined;
  /** Transactions of the scheduler (initialize, claim) and of the worker wallet (contribute). */
  private schedulerWriter: ChainWriter;
  private workerWriter: ChainWriter;

  constructor(o: WorkerOptions) {
    this.o = { slots: 2, pollMs: 300, ...o, worker: o.worker ?? o.scheduler };
    this.schedulerWriter = chainWriterFor(o.chain, this.o.scheduler);
    this.workerWriter =
      this.o.worker === this.o.scheduler ? this.schedulerWriter : chainWriterFor(o.chain, this.o.worker);
  }

  private readTask(taskId: Hex): Promise<Task> {
    return readTask(this.o.chain.publicClient, this.o.chain.deployment.hub, taskId);
  }

  /** The deal, or undefined when the hub has none with this id. */
  private async readDeal(dealId: Hex): Promise<Deal | undefined> {
    try {
      return await readDeal(this.o.chain.publicClient, this.o.chain.deployment.hub, dealId);
    } catch (e) {
      if (isSealworkError(e, 'DEAL_NOT_FOUND')) return undefined;
      throw e;
    }
  }

  get workerAddress(): Address {
    return this.o.worker.address;
  }

  private emit(e: WorkerEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      /* a listener never breaks the worker */
    }
  }

  /** Start watching the chain (resumes unfinished journal tasks first). */
  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** Stop after the running steps finish (they are journaled; a restart resumes). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled(this.running.values());
  }

  /** Resolve when no task is pending or running (for tests and the demo). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.running.size === 0 && this.o.journal.unfinished().length === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new SealworkError('WORKER_TIMEOUT', 'The worker did not finish its tasks in time.');
  }

  /** Does the chain answer right now (its latest block)? */
  private async chainAnswers(): Promise<boolean> {
    try {
      await getChainTime(this.o.chain.publicClient);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * After a failure: when the chain does not answer, the worker says so once (`waiting`,
   * CHAIN_UNREACHABLE) and holds every task until it answers again. True when the chain is down:
   * the failure is then not held against the task (whatever its class: a step that failed while
   * the chain was gone runs again once it is back).
   */
  private async checkChainDown(e: unknown): Promise<boolean> {
    if (this.chainDown) return true;
    if (await this.chainAnswers()) return false;
    this.chainDown = {
      code: 'CHAIN_UNREACHABLE',
      message: `The chain at ${this.o.chain.url} does not answer; the worker waits for it and resumes its tasks then.`,
    };
    this.emit({ kind: 'waiting', cause: this.chainDown, detail: causeOf(e).message });
    return true;
  }

  /** While the chain is down: has it come back? Says so (`resumed`) when it has. */
  private async chainBack(): Promise<boolean> {
    if (!this.chainDown) return true;
    if (!(await this.chainAnswers())) return false;
    this.chainDown = undefined;
    this.emit({ kind: 'resumed', detail: `the chain at ${this.o.chain.url} answers again` });
    return true;
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    const j = this.o.journal;
    const key = cursorKey(this.o.workerpool);
    let verified = false;
    while (!this.stopped) {
      try {
        // 0. The chain is down: wait until it answers (running steps fail and are held meanwhile).
        if (!(await this.chainBack())) {
          await this.sleep(this.o.pollMs);
          continue;
        }
        // 1. New deals of our workerpool since the cursor.
        const cursor = parseCursor(j.getMeta(key));
        let from = cursor.next;
        if (!verified && from > 0n) {
          // A journal kept across a chain reset (fresh anvil state, another chain at the same URL)
          // holds a cursor off this chain: the block before it is missing or differs. Rescan.
          const h = await getBlockHash(this.o.chain.publicClient, from - 1n);
          if (!h || (cursor.hash && h.toLowerCase() !== cursor.hash.toLowerCase())) {
            this.emit({
              kind: 'error',
              detail: 'the chain changed since the last run: rescanning its deals',
            });
            from = 0n;
          }
        }
        verified = true;
        const { deals, toBlock, toBlockHash } = await readSchedulerNotices(
          this.o.chain.publicClient,
          this.o.chain.deployment.hub,
          { workerpool: this.o.workerpool, fromBlock: from },
        );
        if (toBlock + 1n < from) {
          // The chain went back below the cursor (it was reset while we ran): rescan.
          j.setMeta(key, '0');
          continue;
        }
        for (const dealId of deals) {
          const deal = await this.readDeal(dealId);
          if (!deal) continue;
          this.emit({ kind: 'deal', dealId, detail: `${deal.botSize} task(s)` });
          for (let i = deal.botFirst; i < deal.botFirst + deal.botSize; i++) {
            const taskId = computeTaskId(dealId, i);
            if (j.add(taskId, dealId, Number(i))) this.emit({ kind: 'task-new', taskId, dealId });
          }
        }
        // The cursor moves only after the tasks are journaled: a crash re-reads, `add` is idempotent.
        if (toBlock >= from) j.setMeta(key, `${toBlock + 1n}:${toBlockHash}`);
        // 2. Fill the free slots with unfinished tasks.
        for (const t of j.unfinished()) {
          if (this.running.size >= this.o.slots) break;
          if (this.running.has(t.taskId)) continue;
          if ((this.notBefore.get(t.taskId) ?? 0) > Date.now()) continue;
          const p = this.drive(t.taskId).finally(() => {
            this.running.delete(t.taskId);
            this.wake?.();
          });
          this.running.set(t.taskId, p);
        }
        // 3. Claim failed tasks past their final deadline (every few seconds).
        if (Date.now() - this.lastClaimCheck > 2000) {
          this.lastClaimCheck = Date.now();
          await this.claimExpired();
        }
      } catch (e) {
        if (!(await this.checkChainDown(e)))
          this.emit({ kind: 'error', detail: (e as Error)?.message ?? String(e) });
      }
      if (!this.stopped) await this.sleep(this.o.pollMs);
    }
  }

  /** Journal a task as failed with its cause, and say so (once: a task already final stays so). */
  private fail(taskId: Hex, cause: FailureCause): void {
    if (this.o.journal.fail(taskId, cause)) this.emit({ kind: 'failed', taskId, cause });
  }

  /** Run one task from its journaled step to a final one. */
  private async drive(taskId: Hex): Promise<void> {
    const j = this.o.journal;
    for (let guard = 0; guard < 10 && !this.stopped; guard++) {
      const t = j.get(taskId) as TaskRecord;
      try {
        if ((await this.step(t)) === 'stop') return;
      } catch (e) {
        // Was an enclave run (counted as an attempt) interrupted by this failure?
        const interrupted = this.counted.delete(taskId);
        if (this.stopped) {
          // A clean stop interrupted the enclave run: not the task's fault, so not an attempt.
          if (interrupted) j.refundAttempt(taskId);
          return;
        }
        if (await this.checkChainDown(e)) {
          // The chain went away under this step: not the task's fault, neither a retry nor an
          // attempt; the task stays at its journaled step until the chain answers again.
          if (interrupted) j.refundAttempt(taskId);
          return;
        }
        const cause = causeOf(e);
        const tries = (this.retries.get(taskId) ?? 0) + 1;
        if (isTransient(e) && tries < MAX_ATTEMPTS) {
          // A service was unreachable: the step is retried later (the journal still holds it).
          this.retries.set(taskId, tries);
          this.notBefore.set(taskId, Date.now() + 1000 * 2 ** tries);
          this.emit({ kind: 'error', taskId, detail: `retrying later: [${cause.code}] ${cause.message}` });
          return;
        }
        this.retries.delete(taskId);
        this.fail(taskId, cause);
        return;
      }
    }
  }

  /** One step of a task, from its journaled step: `next` when it moved on, `stop` when it is done for now. */
  private step(t: TaskRecord): Promise<StepOutcome> {
    switch (t.step) {
      case 'pending':
        return this.initializeStep(t);
      case 'initialized':
        return this.computeStep(t);
      case 'computed':
      case 'contributing':
        return this.contributeStep(t);
      default:
        return Promise.resolve('stop');
    }
  }

  /** pending → initialized: initialize the task on chain (unless it is already further). */
  private async initializeStep(t: TaskRecord): Promise<StepOutcome> {
    const j = this.o.journal;
    const taskId = t.taskId;
    const onChain = await this.readTask(taskId);
    if (onChain.status === TaskStatus.UNSET) {
      const deal = await this.readDeal(t.dealId);
      if (!deal) throw new SealworkError('DEAL_NOT_FOUND', `Deal ${t.dealId} is not on chain.`);
      if (!isTeeTag(deal.tag))
        throw new SealworkError(
          'DEAL_NOT_TEE',
          `Deal ${t.dealId} does not ask for a TEE; this worker only runs TEE tasks.`,
        );
      await initializeTask(this.schedulerWriter, t.dealId, t.index).catch((e: unknown) => {
        throw refused(`initialize(${t.dealId}, ${t.index})`, 'initialize', e);
      });
    } else if (onChain.status === TaskStatus.COMPLETED) {
      j.advance(taskId, 'pending', 'completed');
      this.emit({ kind: 'completed', taskId, detail: 'already completed on chain' });
      return 'stop';
    } else if (onChain.status === TaskStatus.FAILED) {
      j.advance(taskId, 'pending', 'claimed', {
        cause: { code: 'TASK_FAILED_ON_CHAIN', message: 'The task was claimed.' },
      });
      return 'stop';
    }
    j.advance(taskId, 'pending', 'initialized');
    this.emit({ kind: 'initialized', taskId, dealId: t.dealId });
    return 'next';
  }

  /** initialized → computed: run the TEE part (attempts counted, bounded by MAX_ATTEMPTS). */
  private async computeStep(t: TaskRecord): Promise<StepOutcome> {
    const j = this.o.journal;
    const taskId = t.taskId;
    const onChain = await this.readTask(taskId);
    if (onChain.status !== TaskStatus.ACTIVE) {
      if (onChain.status === TaskStatus.COMPLETED) {
        if (j.advance(taskId, 'initialized', 'completed'))
          this.emit({ kind: 'completed', taskId, detail: 'already completed on chain' });
      } else if (onChain.status === TaskStatus.UNSET) {
        // The chain lost the initialize (restored from an older state, reorganized): initialize again.
        j.advance(taskId, 'initialized', 'pending');
        return 'next';
      } else
        this.fail(taskId, {
          code: 'TASK_NOT_ACTIVE',
          message: `The task is ${taskStatusName(onChain.status)} on chain, not ACTIVE.`,
        });
      return 'stop';
    }
    const deal = await this.readDeal(t.dealId);
    if (!deal) throw new SealworkError('DEAL_NOT_FOUND', `Deal ${t.dealId} is not on chain.`);
    if (t.attempts >= MAX_ATTEMPTS) {
      this.fail(taskId, {
        code: 'TASK_RETRIES_EXHAUSTED',
        message: `The enclave run was interrupted ${t.attempts} times; giving up.`,
      });
      return 'stop';
    }
    this.emit({ kind: 'computing', taskId });
    j.advance(taskId, 'initialized', 'initialized', { attempt: true });
    this.counted.add(taskId);
    const result = await this.o.runTee({
      taskId,
      deal,
      index: BigInt(t.index),
      worker: this.o.worker.address,
      signal: this.abort.signal,
    });
    this.counted.delete(taskId);
    j.advance(taskId, 'initialized', 'computed', { result });
    this.emit({ kind: 'computed', taskId, detail: result.location });
    return 'next';
  }

  /** computed / contributing → completed: contributeAndFinalize (sent once, resumed by its hash). */
  private async contributeStep(t: TaskRecord): Promise<StepOutcome> {
    const j = this.o.journal;
    const pc = this.o.chain.publicClient;
    const taskId = t.taskId;
    const onChain = await this.readTask(taskId);
    if (onChain.status === TaskStatus.COMPLETED) {
      j.advance(taskId, ['computed', 'contributing'], 'completed');
      this.emit({ kind: 'completed', taskId, detail: resultsText(onChain) });
      return 'stop';
    }
    if (onChain.status !== TaskStatus.ACTIVE) {
      this.fail(taskId, {
        code: 'TASK_NOT_ACTIVE',
        message: `The task is ${taskStatusName(onChain.status)} on chain, not ACTIVE.`,
      });
      return 'stop';
    }
    if (t.step === 'contributing' && t.txHash) {
      const st = await getReceiptStatus(pc, t.txHash);
      if (st === undefined) {
        // Sent but not mined (yet): give it a moment before sending again.
        await new Promise((r) => setTimeout(r, 1000));
        if ((await getReceiptStatus(pc, t.txHash)) === undefined)
          j.advance(taskId, 'contributing', 'computed');
        return 'next';
      }
      // Mined (success or revert) and yet the task is ACTIVE: send again from `computed`.
      j.advance(taskId, 'contributing', 'computed');
      return 'next';
    }
    const r = t.result as ComputedResult;
    this.emit({ kind: 'contributing', taskId });
    await contributeAndFinalize(this.workerWriter, {
      taskid: taskId,
      resultDigest: r.digest,
      results: stringToHex(r.results),
      resultsCallback: '0x',
      enclaveChallenge: r.enclaveChallenge,
      enclaveSign: r.enclaveSign,
      authorizationSign: r.authorizationSign,
      onHash: (hash) => j.advance(taskId, 'computed', 'contributing', { txHash: hash }),
    }).catch(async (e: unknown) => {
      // A send that lost the race to an earlier one of ours (mined meanwhile) reverts, and yet the
      // task is COMPLETED: the chain decides, not the revert.
      if (isTransient(e) || (await this.readTask(taskId)).status !== TaskStatus.COMPLETED)
        throw refused(`contributeAndFinalize(${taskId})`, 'contributeAndFinalize', e);
    });
    j.advance(taskId, ['computed', 'contributing'], 'completed');
    this.emit({ kind: 'completed', taskId, detail: r.location });
    return 'stop';
  }

  /** Claim journaled tasks that failed (or never finished) once their final deadline is past. */
  async claimExpired(): Promise<number> {
    const j = this.o.journal;
    const candidates = j.list({ steps: ['failed'] });
    if (candidates.length === 0) return 0;
    const now = await getChainTime(this.o.chain.publicClient);
    let n = 0;
    for (const t of candidates) {
      const onChain = await this.readTask(t.taskId);
      if (onChain.status === TaskStatus.FAILED) {
        // Claimed by someone else: nothing left to do.
        j.advance(t.taskId, 'failed', 'claimed');
        continue;
      }
      if (onChain.status !== TaskStatus.ACTIVE && onChain.status !== TaskStatus.REVEALING) continue;
      if (now < onChain.finalDeadline) continue;
      try {
        await claimTask(this.schedulerWriter, t.taskId).catch((e: unknown) => {
          throw refused(`claim(${t.taskId})`, 'claim', e);
        });
        j.advance(t.taskId, 'failed', 'claimed');
        this.emit({ kind: 'claimed', taskId: t.taskId });
        n++;
      } catch (e) {
        this.emit({
          kind: 'error',
          taskId: t.taskId,
          detail: `claim: ${(e as Error)?.message ?? String(e)}`,
        });
      }
    }
    return n;
  }
}
