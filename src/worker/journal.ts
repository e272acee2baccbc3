/**
 * The worker's durable per-task journal (SQLite, WAL, synchronous=FULL): every step a task goes
 * through is recorded before the worker moves on, with compare-and-set transitions, so a worker
 * killed at any point resumes after restart without losing a task or doing a step twice.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { SealworkError } from '../errors.js';
import { preparePrivateSqlite, privateSqliteSidecars } from '../util/private-file.js';

/**
 * Task steps, in order. `pending` (seen in a deal) → `initialized` (on chain ACTIVE) → `computed`
 * (result uploaded and signed by the enclave; not secret) → `contributing` (transaction sent) →
 * `completed`. Any step may go to `failed` (with a cause); `failed` tasks past their deadline go to
 * `claimed` once `claim` is mined.
 */
export const TASK_STEPS = [
  'pending',
  'initialized',
  'computed',
  'contributing',
  'completed',
  'failed',
  'claimed',
] as const;
export type TaskStep = (typeof TASK_STEPS)[number];
export const FINAL_STEPS: readonly TaskStep[] = ['completed', 'claimed'];

export interface FailureCause {
  /** Stable code, e.g. APP_EXIT_NONZERO, DATASET_CHECKSUM_MISMATCH, ATTESTATION_REFUSED. */
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface ComputedResult {
  digest: `0x${string}`;
  /** The `results` bytes for contributeAndFinalize: `{"storage": "…", "location": "…"}`. */
  results: string;
  location: string;
  encrypted: boolean;
  enclaveChallenge: `0x${string}`;
  enclaveSign: `0x${string}`;
  authorizationSign: `0x${string}`;
  /** Exit code and a bounded tail of the app logs (no secrets are given to the app's stdout by us). */
  exitCode: number;
}

export interface TaskRecord {
  taskId: `0x${string}`;
  dealId: `0x${string}`;
  index: number;
  step: TaskStep;
  attempts: number;
  cause: FailureCause | undefined;
  result: ComputedResult | undefined;
  txHash: `0x${string}` | undefined;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  task_id: string;
  deal_id: string;
  idx: number;
  step: string;
  attempts: number;
  cause: string | null;
  result: string | null;
  tx_hash: string | null;
  created_at: number;
  updated_at: number;
}

function toRecord(r: Row): TaskRecord {
  return {
    taskId: r.task_id as `0x${string}`,
    dealId: r.deal_id as `0x${string}`,
    index: r.idx,
    step: r.step as TaskStep,
    attempts: r.attempts,
    cause: r.cause ? (JSON.parse(r.cause) as FailureCause) : undefined,
    result: r.result ? (JSON.parse(r.result) as ComputedResult) : undefined,
    txHash: (r.tx_hash ?? undefined) as `0x${string}` | undefined,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * TEST ONLY, off unless the variable is set: `SEALWORK_TEST_PAUSE_AT=<point>[:<n>]` freezes the
 * whole process right after the n-th (default first) journal write of `<point>` is committed —
 * a step name (`pending`, `initialized`, `computed`, `contributing`, `completed`, `failed`,
 * `claimed`) or `attempt` (an enclave run counted, about to start). It first writes
 * `<journal folder>/test-paused-<point>` holding the task id, then blocks forever: the fault tests
 * kill the worker there (kill -9) to crash it at a precise step. Never set it in production.
 */
function pauseHook(folder: string): ((point: string, taskId: string) => void) | undefined {
  const spec = process.env.SEALWORK_TEST_PAUSE_AT;
  if (!spec) return undefined;
  const [point, nth] = spec.split(':');
  const want = Math.max(1, Number(nth ?? '1') || 1);
  let seen = 0;
  return (p, taskId) => {
    if (p !== point || ++seen !== want) return;
    writeFileSync(join(folder, `test-paused-${p}`), `${taskId}\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
}

export class TaskJournal {
  readonly path: string;
  private db: Database.Database;
  private pause: ((point: string, taskId: string) => void) | undefined;

  private constructor(path: string) {
    this.path = path;
    this.pause = pauseHook(dirname(path));
    try {
      // The journal holds the scheduler's authorization signatures: 0600 in a 0700 folder.
      preparePrivateSqlite(path);
      this.db = new Database(path);
    } catch (e) {
      throw new SealworkError('JOURNAL_OPEN_FAILED', `Cannot open the worker journal ${path}.`, {
        hint: 'Check that the folder is writable and no other program holds the file.',
        cause: e,
      });
    }
    this.db.pragma('journal_mode = WAL');
    privateSqliteSidecars(path);
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (
        task_id TEXT PRIMARY KEY,
        deal_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        step TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        cause TEXT,
        result TEXT,
        tx_hash TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS tasks_step ON tasks(step);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        step TEXT NOT NULL,
        note TEXT
      );
    `);
  }

  /** Open (creating) the journal file. */
  static open(path: string): TaskJournal {
    return new TaskJournal(path);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private log(taskId: string, step: string, note?: string): void {
    this.db
      .prepare('INSERT INTO events (task_id, at, step, note) VALUES (?, ?, ?, ?)')
      .run(taskId, Date.now(), step, note ?? null);
  }

  /** Record a task seen in a deal; false when it was already known (idempotent). */
  add(taskId: `0x${string}`, dealId: `0x${string}`, index: number): boolean {
    const now = Date.now();
    const tx = this.db.transaction(() => {
      const r = this.db
        .prepare(
          `INSERT OR IGNORE INTO tasks (task_id, deal_id, idx, step, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?)`,
        )
        .run(taskId.toLowerCase(), dealId.toLowerCase(), index, now, now);
      if (r.changes === 1) this.log(taskId.toLowerCase(), 'pending');
      return r.changes === 1;
    });
    const added = tx();
    if (added) this.pause?.('pending', taskId.toLowerCase());
    return added;
  }

  get(taskId: string): TaskRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tasks WHERE task_id = ?').get(taskId.toLowerCase()) as
      Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  list(filter: { steps?: TaskStep[]; dealId?: string } = {}): TaskRecord[] {
    // Filtered in SQL (the step index): the worker asks for its unfinished tasks on every poll,
    // and a long-lived journal holds many finished ones.
    const where: string[] = [];
    const args: string[] = [];
    if (filter.steps) {
      if (filter.steps.length === 0) return [];
      where.push(`step IN (${filter.steps.map(() => '?').join(', ')})`);
      args.push(...filter.steps);
    }
    if (filter.dealId) {
      where.push('deal_id = ?');
      args.push(filter.dealId.toLowerCase());
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, deal_id, idx`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toRecord);
  }

  /** Tasks that still need work after a restart (not final, not failed). */
  unfinished(): TaskRecord[] {
    return this.list({ steps: ['pending', 'initialized', 'computed', 'contributing'] });
  }

  /**
   * Move a task from `from` to `to` atomically (compare-and-set), storing the given fields.
   * Returns false (and changes nothing) when the task is not at `from` any more.
   */
  advance(
    taskId: string,
    from: TaskStep | TaskStep[],
    to: TaskStep,
    patch: { result?: ComputedResult; txHash?: `0x${string}`; cause?: FailureCause; attempt?: boolean } = {},
  ): boolean {
    const froms = Array.isArray(from) ? from : [from];
    const id = taskId.toLowerCase();
    const tx = this.db.transaction(() => {
      const cur = this.db.prepare('SELECT step FROM tasks WHERE task_id = ?').get(id) as
        { step: string } | undefined;
      if (!cur || !froms.includes(cur.step as TaskStep)) return false;
      this.db
        .prepare(
          `UPDATE tasks SET step = ?, updated_at = ?,
             result = COALESCE(?, result), tx_hash = COALESCE(?, tx_hash), cause = COALESCE(?, cause),
             attempts = attempts + ?
           WHERE task_id = ?`,
        )
        .run(
          to,
          Date.now(),
          patch.result ? JSON.stringify(patch.result) : null,
          patch.txHash ?? null,
          patch.cause ? JSON.stringify(patch.cause) : null,
          patch.attempt ? 1 : 0,
          id,
        );
      this.log(id, to, patch.cause ? `${patch.cause.code}: ${patch.cause.message}` : patch.txHash);
      return true;
    });
    const moved = tx();
    if (moved) this.pause?.(patch.attempt ? 'attempt' : to, id);
    return moved;
  }

  /** Take back the attempt counted for an enclave run that a clean stop interrupted. */
  refundAttempt(taskId: string): boolean {
    const id = taskId.toLowerCase();
    const tx = this.db.transaction(() => {
      const r = this.db
        .prepare(
          `UPDATE tasks SET attempts = attempts - 1, updated_at = ? WHERE task_id = ? AND step = 'initialized' AND attempts > 0`,
        )
        .run(Date.now(), id);
      if (r.changes === 1)
        this.log(id, 'initialized', 'run interrupted by a clean stop (attempt not counted)');
      return r.changes === 1;
    });
    return tx();
  }

  /** Record a failure with its cause (from any non-final step). */
  fail(taskId: string, cause: FailureCause): boolean {
    return this.advance(taskId, ['pending', 'initialized', 'computed', 'contributing'], 'failed', { cause });
  }

  /** Step history of a task (for `task show` and debugging). */
  history(taskId: string): { at: number; step: string; note: string | null }[] {
    return this.db
      .prepare('SELECT at, step, note FROM events WHERE task_id = ? ORDER BY id')
      .all(taskId.toLowerCase()) as { at: number; step: string; note: string | null }[];
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }
}
