/**
 * SMS storage: SQLite (better-sqlite3, WAL, synchronous=FULL) or PostgreSQL (`pg`), same schema
 * and behaviour. The store only ever sees sealed values (see sealing.ts); it never holds a secret
 * in clear. Audit entries are group-committed: each `appendAudit` resolves once its entry is in a
 * committed transaction, and concurrent entries share one commit.
 */
import { SealworkError } from '../errors.js';
import { preparePrivateSqlite, privateSqliteSidecars } from '../util/private-file.js';

export type SecretKind = 'web3' | 'web2' | 'app' | 'requester';

export interface SecretId {
  kind: SecretKind;
  /** Lower-case 0x address (dataset, owner, app or requester). */
  owner: string;
  /** '' for web3 secrets. */
  name: string;
}

export function secretAad(id: SecretId): string {
  return `secret|${id.kind}|${id.owner.toLowerCase()}|${id.name}`;
}

export interface StoredChallenge {
  taskId: string;
  address: string;
  /** Sealed private key. */
  sealedKey: Buffer;
  finalDeadline: number;
}

export interface AuditEntry {
  time: string;
  taskId: string | null;
  app: string | null;
  mrenclave: string | null;
  mrsigner: string | null;
  worker: string | null;
  /** Names of the secrets released (never their values). */
  secrets: string[];
  verdict: 'released' | 'refused';
  code: string | null;
  reason: string | null;
}

export type PushOutcome = 'stored' | 'exists' | 'missing' | 'replayed';

export interface SmsStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  hasSecret(id: SecretId): Promise<boolean>;
  getSecret(id: SecretId): Promise<Buffer | undefined>;
  /**
   * Store a pushed secret (`insert` a new one, or `update` an existing one) and use up its push
   * signature, in one transaction: all of it is written, or nothing. `stored`; else nothing written
   * and why: `exists` (insert: the secret is there already), `missing` (update: no secret to
   * replace), `replayed` (the signature's fingerprint — a hash, never the signature or the value —
   * was already used, for any secret on any endpoint).
   */
  pushSecret(
    id: SecretId,
    sealed: Buffer,
    fingerprint: string,
    mode: 'insert' | 'update',
  ): Promise<PushOutcome>;
  /** Insert the task's challenge unless one exists; returns the stored one either way. */
  putChallenge(c: StoredChallenge): Promise<StoredChallenge>;
  getChallenge(taskId: string): Promise<StoredChallenge | undefined>;
  /** Delete challenges whose final deadline is before `nowSeconds`; returns how many. */
  deleteExpiredChallenges(nowSeconds: number): Promise<number>;
  /**
   * Mark a nonce used (shared across SMS processes); false when it was already used. Stored until
   * `expiresAtMs`, then removed by `deleteExpiredNonces`.
   */
  useNonce(nonce: string, expiresAtMs: number): Promise<boolean>;
  deleteExpiredNonces(nowMs: number): Promise<number>;
  appendAudit(e: AuditEntry): Promise<void>;
  /** Store the release receipt of a task (JSON text); a later release of the same task replaces it. */
  putReceipt(taskId: string, receipt: string): Promise<void>;
  /** The latest release receipt of a task (JSON text), if this SMS released anything for it. */
  getReceipt(taskId: string): Promise<string | undefined>;
  listAudit(opts?: { taskId?: string; limit?: number }): Promise<AuditEntry[]>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * How durable a write is, as the database itself reports it (for checks and `sms status`):
   * SQLite's journal mode and `synchronous` level of this connection, or PostgreSQL's WAL and
   * `synchronous_commit`.
   */
  durability(): Promise<{ journal: string; synchronous: string }>;
  close(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);

/** Batches audit rows: entries appended in the same tick share one transaction. */
class GroupCommit<T> {
  private queue: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  constructor(private readonly write: (items: T[]) => Promise<void> | void) {}
  push(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.running = this.running.then(() => this.flush());
        });
      }
    });
  }
  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      await this.write(batch.map((b) => b.item));
      batch.forEach((b) => b.resolve());
    } catch (e) {
      batch.forEach((b) => b.reject(e));
    }
  }
  async drain(): Promise<void> {
    await this.running;
    if (this.queue.length) await this.flush();
  }
}

// ---------------------------------------------------------------- SQLite

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
  kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (kind, owner, name));
CREATE TABLE IF NOT EXISTS tee_challenges (
  task_id TEXT PRIMARY KEY, address TEXT NOT NULL, private_key BLOB NOT NULL,
  final_deadline INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, task_id TEXT, app TEXT, mrenclave TEXT,
  mrsigner TEXT, worker TEXT, secrets TEXT NOT NULL, verdict TEXT NOT NULL, code TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS audit_log_task ON audit_log (task_id);
CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used_signatures (
  fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
  used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (task_id TEXT PRIMARY KEY, receipt TEXT NOT NULL, issued_at INTEGER NOT NULL);
`;

interface AuditRow {
  time: string;
  task_id: string | null;
  app: string | null;
  mrenclave: string | null;
  mrsigner: string | null;
  worker: string | null;
  secrets: string;
  verdict: 'released' | 'refused';
  code: string | null;
  reason: string | null;
}

/** The audit_log columns both stores insert, and an entry's values in that order. */
const AUDIT_COLUMNS = '(time, task_id, app, mrenclave, mrsigner, worker, secrets, verdict, code, reason)';
const auditValues = (e: AuditEntry): unknown[] => [
  e.time,
  e.taskId,
  e.app,
  e.mrenclave,
  e.mrsigner,
  e.worker,
  JSON.stringify(e.secrets),
  e.verdict,
  e.code,
  e.reason,
];

const fromAuditRow = (r: AuditRow): AuditEntry => ({
  time: r.time,
  taskId: r.task_id,
  app: r.app,
  mrenclave: r.mrenclave,
  mrsigner: r.mrsigner,
  worker: r.worker,
  secrets: JSON.parse(r.secrets) as string[],
  verdict: r.verdict,
  code: r.code,
  reason: r.reason,
});

/** Open (or create) the SQLite database: WAL, synchronous=FULL, the schema. */
async function openSqliteDb(path: string): Promise<import('better-sqlite3').Database> {
  const { default: Database } = await import('better-sqlite3');
  try {
    // Sealed secrets and challenge keys: the file and its -wal/-shm 0600, its folder 0700 when created.
    preparePrivateSqlite(path);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    privateSqliteSidecars(path);
    // FULL: the WAL is fsynced at every commit, so an acknowledged push survives kill -9 / power loss.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(SQLITE_SCHEMA);
    return db;
  } catch (e) {
    throw new SealworkError(
      'SMS_DB_OPEN_FAILED',
      `Cannot open the SMS database ${path}: ${(e as Error).message}`,
      {
        hint: 'Check the path and its permissions, or pass another --db.',
        details: { path },
        cause: e,
      },
    );
  }
}

/**
 * The audit log and used nonces, written through a second connection with synchronous=NORMAL: in
 * WAL mode a commit then survives a process crash or kill -9 (not a power cut) without an fsync on
 * the hot path of attested sessions. Secrets and challenge keys (the first connection) stay FULL.
 */
async function openSqliteAuditLog(path: string) {
  const { default: Database } = await import('better-sqlite3');
  const auditDb = new Database(path);
  auditDb.pragma('synchronous = NORMAL');
  auditDb.pragma('busy_timeout = 5000');
  const auditInsert = auditDb.prepare(
    `INSERT INTO audit_log ${AUDIT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const useNonce = auditDb.prepare(
    'INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
  );
  const deleteNonces = auditDb.prepare('DELETE FROM used_nonces WHERE expires_at < ?');
  const putReceipt = auditDb.prepare(
    'INSERT INTO receipts (task_id, receipt, issued_at) VALUES (?, ?, ?) ON CONFLICT (task_id) DO UPDATE SET receipt = excluded.receipt, issued_at = excluded.issued_at',
  );
  const writeAudit = auditDb.transaction((items: AuditEntry[]) => {
    for (const e of items) auditInsert.run(...auditValues(e));
  });
  const audit = new GroupCommit<AuditEntry>((items) => writeAudit(items));
  return {
    append: (e: AuditEntry) => audit.push(e),
    useNonce: (nonce: string, expiresAtMs: number) => useNonce.run(nonce, expiresAtMs).changes === 1,
    deleteNonces: (nowMs: number) => deleteNonces.run(nowMs).changes,
    putReceipt: (taskId: string, receipt: string) => void putReceipt.run(taskId, receipt, now()),
    async close() {
      await audit.drain();
      if (auditDb.open) auditDb.close();
    },
  };
}

export async function openSqliteStore(path: string): Promise<SmsStore> {
  const db = await openSqliteDb(path);
  const q = {
    has: db.prepare('SELECT 1 FROM secrets WHERE kind = ? AND owner = ? AND name = ?').pluck(),
    get: db.prepare('SELECT value FROM secrets WHERE kind = ? AND owner = ? AND name = ?').pluck(),
    insert: db.prepare(
      'INSERT INTO secrets (kind, owner, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    update: db.prepare(
      'UPDATE secrets SET value = ?, updated_at = ? WHERE kind = ? AND owner = ? AND name = ?',
    ),
    putChallenge: db.prepare(
      'INSERT INTO tee_challenges (task_id, address, private_key, final_deadline, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    getChallenge: db.prepare(
      'SELECT task_id, address, private_key, final_deadline FROM tee_challenges WHERE task_id = ?',
    ),
    deleteExpired: db.prepare('DELETE FROM tee_challenges WHERE final_deadline < ?'),
    useSignature: db.prepare(
      'INSERT INTO used_signatures (fingerprint, kind, owner, name, used_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    getReceipt: db.prepare('SELECT receipt FROM receipts WHERE task_id = ?').pluck(),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  };
  const auditLog = await openSqliteAuditLog(path);
  /** A push that must not be written: thrown inside the transaction to roll it back. */
  class Rollback {
    constructor(readonly outcome: PushOutcome) {}
  }
  const push = db.transaction(
    (id: SecretId, sealed: Buffer, fingerprint: string, mode: 'insert' | 'update') => {
      const [owner, t] = [id.owner.toLowerCase(), now()];
      const written =
        mode === 'insert'
          ? q.insert.run(id.kind, owner, id.name, sealed, t, t).changes
          : q.update.run(sealed, t, id.kind, owner, id.name).changes;
      if (written !== 1) throw new Rollback(mode === 'insert' ? 'exists' : 'missing');
      if (q.useSignature.run(fingerprint, id.kind, owner, id.name, t).changes !== 1)
        throw new Rollback('replayed');
    },
  );
  type ChallengeRow = { task_id: string; address: string; private_key: Buffer; final_deadline: number };
  const toChallenge = (r: ChallengeRow): StoredChallenge => ({
    taskId: r.task_id,
    address: r.address,
    sealedKey: r.private_key,
    finalDeadline: r.final_deadline,
  });
  return {
    kind: 'sqlite',
    location: path,
    async hasSecret(id) {
      return q.has.get(id.kind, id.owner.toLowerCase(), id.name) !== undefined;
    },
    async getSecret(id) {
      return q.get.get(id.kind, id.owner.toLowerCase(), id.name) as Buffer | undefined;
    },
    async pushSecret(id, sealed, fingerprint, mode) {
      try {
        // IMMEDIATE: take the write lock first, so two SMS processes never deadlock on an upgrade.
        push.immediate(id, sealed, fingerprint, mode);
        return 'stored';
      } catch (e) {
        if (e instanceof Rollback) return e.outcome;
        throw e;
      }
    },
    async putChallenge(c) {
      q.putChallenge.run(c.taskId.toLowerCase(), c.address, c.sealedKey, c.finalDeadline, now());
      return toChallenge(q.getChallenge.get(c.taskId.toLowerCase()) as ChallengeRow);
    },
    async getChallenge(taskId) {
      const r = q.getChallenge.get(taskId.toLowerCase()) as ChallengeRow | undefined;
      return r && toChallenge(r);
    },
    async deleteExpiredChallenges(nowSeconds) {
      return q.deleteExpired.run(nowSeconds).changes;
    },
    async useNonce(nonce, expiresAtMs) {
      return auditLog.useNonce(nonce, expiresAtMs);
    },
    async deleteExpiredNonces(nowMs) {
      return auditLog.deleteNonces(nowMs);
    },
    appendAudit(e) {
      return auditLog.append(e);
    },
    async putReceipt(taskId, receipt) {
      auditLog.putReceipt(taskId.toLowerCase(), receipt);
    },
    async getReceipt(taskId) {
      return q.getReceipt.get(taskId.toLowerCase()) as string | undefined;
    },
    async listAudit(opts = {}) {
      const rows = (
        opts.taskId
          ? db
              .prepare('SELECT * FROM audit_log WHERE task_id = ? ORDER BY id DESC LIMIT ?')
              .all(opts.taskId.toLowerCase(), opts.limit ?? 100)
          : db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(opts.limit ?? 100)
      ) as AuditRow[];
      return rows.map(fromAuditRow);
    },
    async getMeta(key) {
      return q.getMeta.get(key) as string | undefined;
    },
    async setMeta(key, value) {
      q.setMeta.run(key, value);
    },
    async durability() {
      const level = Number(db.pragma('synchronous', { simple: true }));
      return {
        journal: String(db.pragma('journal_mode', { simple: true })),
        synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][level] ?? String(level),
      };
    },
    async close() {
      await auditLog.close();
      if (db.open) db.close();
    },
  };
}

// ---------------------------------------------------------------- PostgreSQL

const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
  kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, value BYTEA NOT NULL,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (kind, owner, name));
CREATE TABLE IF NOT EXISTS tee_challenges (
  task_id TEXT PRIMARY KEY, address TEXT NOT NULL, private_key BYTEA NOT NULL,
  final_deadline BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
  id BIGSERIAL PRIMARY KEY, time TEXT NOT NULL, task_id TEXT, app TEXT, mrenclave TEXT,
  mrsigner TEXT, worker TEXT, secrets TEXT NOT NULL, verdict TEXT NOT NULL, code TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS audit_log_task ON audit_log (task_id);
CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS used_signatures (
  fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
  used_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (task_id TEXT PRIMARY KEY, receipt TEXT NOT NULL, issued_at BIGINT NOT NULL);
`;

/** Redact the password of a postgres:// URL for logs and errors. */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

type PgPool = import('pg').Pool;
type PgQuery = <R extends import('pg').QueryResultRow = Record<string, unknown>>(
  text: string,
  values?: unknown[],
) => Promise<import('pg').QueryResult<R>>;

/**
 * SQLSTATEs that mean the server cannot serve right now: connection exceptions (class 08),
 * insufficient resources (class 53: too many connections, disk full), and a server shutting down,
 * crashed or still starting (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
 */
const PG_UNAVAILABLE = (sqlState: string) =>
  sqlState.startsWith('08') || sqlState.startsWith('53') || ['57P01', '57P02', '57P03'].includes(sqlState);

/**
 * Turn a failure of the pg driver into SMS_STORE_UNAVAILABLE when the database could not serve, by
 * the error's class and SQLSTATE: a `DatabaseError` is the server's answer (unavailable for the
 * states above); any other Error but our own argument errors (TypeError, RangeError) never reached
 * an answer: a socket error, a dropped connection, a connect timeout.
 */
export function pgStoreError(
  e: unknown,
  databaseError: typeof import('pg').DatabaseError,
  url: string,
): unknown {
  const unavailable =
    e instanceof databaseError
      ? PG_UNAVAILABLE(e.code ?? '')
      : e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError);
  if (!unavailable) return e;
  return new SealworkError(
    'SMS_STORE_UNAVAILABLE',
    `The SMS database ${redactDbUrl(url)} cannot be reached right now; nothing was written.`,
    {
      hint: 'Retry later; check that PostgreSQL is running.',
      details: {
        db: redactDbUrl(url),
        reason: (e as { code?: string }).code ?? (e as Error).constructor.name,
      },
      cause: e,
    },
  );
}

/**
 * A pool on the database, with the schema created, and `run`, which maps its failures (see
 * pgStoreError). The pool reconnects by itself: a client whose connection broke is discarded, and
 * the next query opens a new one, so the SMS resumes once PostgreSQL is back, without a restart.
 */
async function connectPostgres(
  url: string,
): Promise<{ pool: PgPool; run: <R>(f: () => Promise<R>) => Promise<R> }> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  pool.on('error', () => {
    /* an idle client lost its connection: the pool drops it; the next query connects anew */
  });
  const run = async <R>(f: () => Promise<R>): Promise<R> => {
    try {
      return await f();
    } catch (e) {
      throw pgStoreError(e, pg.DatabaseError, url);
    }
  };
  try {
    await pool.query(PG_SCHEMA);
    return { pool, run };
  } catch (e) {
    await pool.end().catch(() => {});
    throw new SealworkError(
      'SMS_DB_OPEN_FAILED',
      `Cannot open the SMS database ${redactDbUrl(url)}: ${(e as Error).message}`,
      {
        hint: 'Check that PostgreSQL is running and the URL, user and database are right.',
        details: { db: redactDbUrl(url) },
        cause: e,
      },
    );
  }
}

/** Audit rows group-committed as one multi-row INSERT. */
const pgAuditLog = (query: PgQuery) =>
  new GroupCommit<AuditEntry>(async (items) => {
    const values: unknown[] = [];
    const rows = items.map((e, i) => {
      values.push(...auditValues(e));
      const b = i * 10;
      return `(${Array.from({ length: 10 }, (_, k) => `$${b + k + 1}`).join(', ')})`;
    });
    await query(`INSERT INTO audit_log ${AUDIT_COLUMNS} VALUES ${rows.join(', ')}`, values);
  });

/** The secret and its push signature in one transaction (see SmsStore.pushSecret). */
async function pgPushSecret(
  pool: PgPool,
  id: SecretId,
  sealed: Buffer,
  fingerprint: string,
  mode: 'insert' | 'update',
): Promise<PushOutcome> {
  const client = await pool.connect();
  let failed: Error | undefined;
  // A checked-out client whose connection drops between two queries emits 'error' (the pool only
  // listens on idle ones): without a listener that would crash the SMS. The next query fails too;
  // the client is then discarded on release.
  const broken = (e: Error) => (failed = e);
  client.on('error', broken);
  try {
    const [owner, t] = [id.owner.toLowerCase(), now()];
    await client.query('BEGIN');
    const written =
      mode === 'insert'
        ? await client.query(
            'INSERT INTO secrets (kind, owner, name, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING',
            [id.kind, owner, id.name, sealed, t],
          )
        : await client.query(
            'UPDATE secrets SET value = $1, updated_at = $2 WHERE kind = $3 AND owner = $4 AND name = $5',
            [sealed, t, id.kind, owner, id.name],
          );
    let outcome: PushOutcome = 'stored';
    if (written.rowCount !== 1) outcome = mode === 'insert' ? 'exists' : 'missing';
    else {
      const used = await client.query(
        'INSERT INTO used_signatures (fingerprint, kind, owner, name, used_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [fingerprint, id.kind, owner, id.name, t],
      );
      if (used.rowCount !== 1) outcome = 'replayed';
    }
    await client.query(outcome === 'stored' ? 'COMMIT' : 'ROLLBACK');
    return outcome;
  } catch (e) {
    failed = e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    // A client whose transaction failed is discarded (its connection may be broken, or mid-transaction).
    client.off('error', broken);
    client.release(failed);
  }
}

type PgChallengeRow = { task_id: string; address: string; private_key: Buffer; final_deadline: string };
const fromPgChallenge = (r: PgChallengeRow): StoredChallenge => ({
  taskId: r.task_id,
  address: r.address,
  sealedKey: r.private_key,
  finalDeadline: Number(r.final_deadline),
});

export async function openPostgresStore(url: string): Promise<SmsStore> {
  const { pool, run } = await connectPostgres(url);
  const query: PgQuery = (text, values) => run(() => pool.query(text, values));
  const audit = pgAuditLog(query);
  const challengeOf = async (taskId: string) =>
    (
      await query<PgChallengeRow>(
        'SELECT task_id, address, private_key, final_deadline FROM tee_challenges WHERE task_id = $1',
        [taskId.toLowerCase()],
      )
    ).rows[0];
  const secretKey = (id: SecretId) => [id.kind, id.owner.toLowerCase(), id.name];
  return {
    kind: 'postgres',
    location: redactDbUrl(url),
    async hasSecret(id) {
      const r = await query(
        'SELECT 1 FROM secrets WHERE kind = $1 AND owner = $2 AND name = $3',
        secretKey(id),
      );
      return (r.rowCount ?? 0) > 0;
    },
    async getSecret(id) {
      const r = await query<{ value: Buffer }>(
        'SELECT value FROM secrets WHERE kind = $1 AND owner = $2 AND name = $3',
        secretKey(id),
      );
      return r.rows[0]?.value;
    },
    pushSecret: (id, sealed, fingerprint, mode) =>
      run(() => pgPushSecret(pool, id, sealed, fingerprint, mode)),
    async putChallenge(c) {
      await query(
        'INSERT INTO tee_challenges (task_id, address, private_key, final_deadline, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [c.taskId.toLowerCase(), c.address, c.sealedKey, c.finalDeadline, now()],
      );
      return fromPgChallenge((await challengeOf(c.taskId))!);
    },
    async getChallenge(taskId) {
      const r = await challengeOf(taskId);
      return r && fromPgChallenge(r);
    },
    async deleteExpiredChallenges(nowSeconds) {
      return (
        (await query('DELETE FROM tee_challenges WHERE final_deadline < $1', [nowSeconds])).rowCount ?? 0
      );
    },
    async useNonce(nonce, expiresAtMs) {
      const r = await query(
        'INSERT INTO used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [nonce, expiresAtMs],
      );
      return r.rowCount === 1;
    },
    async deleteExpiredNonces(nowMs) {
      return (await query('DELETE FROM used_nonces WHERE expires_at < $1', [nowMs])).rowCount ?? 0;
    },
    appendAudit: (e) => audit.push(e),
    async putReceipt(taskId, receipt) {
      await query(
        'INSERT INTO receipts (task_id, receipt, issued_at) VALUES ($1, $2, $3) ON CONFLICT (task_id) DO UPDATE SET receipt = EXCLUDED.receipt, issued_at = EXCLUDED.issued_at',
        [taskId.toLowerCase(), receipt, now()],
      );
    },
    async getReceipt(taskId) {
      const r = await query<{ receipt: string }>('SELECT receipt FROM receipts WHERE task_id = $1', [
        taskId.toLowerCase(),
      ]);
      return r.rows[0]?.receipt;
    },
    async listAudit(opts = {}) {
      const r = opts.taskId
        ? await query<AuditRow>('SELECT * FROM audit_log WHERE task_id = $1 ORDER BY id DESC LIMIT $2', [
            opts.taskId.toLowerCase(),
            opts.limit ?? 100,
          ])
        : await query<AuditRow>('SELECT * FROM audit_log ORDER BY id DESC LIMIT $1', [opts.limit ?? 100]);
      return r.rows.map(fromAuditRow);
    },
    async getMeta(key) {
      return (await query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
    },
    async setMeta(key, value) {
      await query(
        'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [key, value],
      );
    },
    async durability() {
      const r = await query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      return { journal: 'wal', synchronous: r.rows[0]?.synchronous_commit ?? 'unknown' };
    },
    async close() {
      await audit.drain();
      await pool.end();
    },
  };
}

/** `--db`: a postgres:// URL, or a SQLite file path (default `<smsDir>/sms.db`). */
export async function openStore(db: string): Promise<SmsStore> {
  if (/^postgres(ql)?:\/\//i.test(db)) return openPostgresStore(db);
  return openSqliteStore(db);
}
