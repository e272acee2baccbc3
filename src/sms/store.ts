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

export interface SmsStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  hasSecret(id: SecretId): Promise<boolean>;
  getSecret(id: SecretId): Promise<Buffer | undefined>;
  /** Insert; false (nothing written) when the secret already exists. */
  insertSecret(id: SecretId, sealed: Buffer): Promise<boolean>;
  /** Replace; false when the secret does not exist. */
  updateSecret(id: SecretId, sealed: Buffer): Promise<boolean>;
  /**
   * Record the fingerprint (a hash, never the signature or the value) of an accepted push
   * signature, for the secret it pushed; false when that signature was already used, for any
   * secret on any endpoint (a replay).
   */
  useSignature(fingerprint: string, id: SecretId): Promise<boolean>;
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
  const writeAudit = auditDb.transaction((items: AuditEntry[]) => {
    for (const e of items) auditInsert.run(...auditValues(e));
  });
  const audit = new GroupCommit<AuditEntry>((items) => writeAudit(items));
  return {
    append: (e: AuditEntry) => audit.push(e),
    useNonce: (nonce: string, expiresAtMs: number) => useNonce.run(nonce, expiresAtMs).changes === 1,
    deleteNonces: (nowMs: number) => deleteNonces.run(nowMs).changes,
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
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  };
  const auditLog = await openSqliteAuditLog(path);
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
    async insertSecret(id, sealed) {
      const t = now();
      return q.insert.run(id.kind, id.owner.toLowerCase(), id.name, sealed, t, t).changes === 1;
    },
    async updateSecret(id, sealed) {
      return q.update.run(sealed, now(), id.kind, id.owner.toLowerCase(), id.name).changes === 1;
    },
    async useSignature(fingerprint, id) {
      return q.useSignature.run(fingerprint, id.kind, id.owner.toLowerCase(), id.name, now()).changes === 1;
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

/** A pool on the database, with the schema created. */
async function connectPostgres(url: string): Promise<import('pg').Pool> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => {
    /* idle client errors surface on the next query */
  });
  try {
    await pool.query(PG_SCHEMA);
    return pool;
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
const pgAuditLog = (pool: import('pg').Pool) =>
  new GroupCommit<AuditEntry>(async (items) => {
    const values: unknown[] = [];
    const rows = items.map((e, i) => {
      values.push(...auditValues(e));
      const b = i * 10;
      return `(${Array.from({ length: 10 }, (_, k) => `$${b + k + 1}`).join(', ')})`;
    });
    await pool.query(`INSERT INTO audit_log ${AUDIT_COLUMNS} VALUES ${rows.join(', ')}`, values);
  });

export async function openPostgresStore(url: string): Promise<SmsStore> {
  const pool = await connectPostgres(url);
  const audit = pgAuditLog(pool);
  type ChallengeRow = { task_id: string; address: string; private_key: Buffer; final_deadline: string };
  const toChallenge = (r: ChallengeRow): StoredChallenge => ({
    taskId: r.task_id,
    address: r.address,
    sealedKey: r.private_key,
    finalDeadline: Number(r.final_deadline),
  });
  return {
    kind: 'postgres',
    location: redactDbUrl(url),
    async hasSecret(id) {
      const r = await pool.query('SELECT 1 FROM secrets WHERE kind = $1 AND owner = $2 AND name = $3', [
        id.kind,
        id.owner.toLowerCase(),
        id.name,
      ]);
      return (r.rowCount ?? 0) > 0;
    },
    async getSecret(id) {
      const r = await pool.query<{ value: Buffer }>(
        'SELECT value FROM secrets WHERE kind = $1 AND owner = $2 AND name = $3',
        [id.kind, id.owner.toLowerCase(), id.name],
      );
      return r.rows[0]?.value;
    },
    async insertSecret(id, sealed) {
      const t = now();
      const r = await pool.query(
        'INSERT INTO secrets (kind, owner, name, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING',
        [id.kind, id.owner.toLowerCase(), id.name, sealed, t],
      );
      return r.rowCount === 1;
    },
    async updateSecret(id, sealed) {
      const r = await pool.query(
        'UPDATE secrets SET value = $1, updated_at = $2 WHERE kind = $3 AND owner = $4 AND name = $5',
        [sealed, now(), id.kind, id.owner.toLowerCase(), id.name],
      );
      return r.rowCount === 1;
    },
    async useSignature(fingerprint, id) {
      const r = await pool.query(
        'INSERT INTO used_signatures (fingerprint, kind, owner, name, used_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [fingerprint, id.kind, id.owner.toLowerCase(), id.name, now()],
      );
      return r.rowCount === 1;
    },
    async putChallenge(c) {
      await pool.query(
        'INSERT INTO tee_challenges (task_id, address, private_key, final_deadline, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [c.taskId.toLowerCase(), c.address, c.sealedKey, c.finalDeadline, now()],
      );
      const r = await pool.query<ChallengeRow>(
        'SELECT task_id, address, private_key, final_deadline FROM tee_challenges WHERE task_id = $1',
        [c.taskId.toLowerCase()],
      );
      return toChallenge(r.rows[0]!);
    },
    async getChallenge(taskId) {
      const r = await pool.query<ChallengeRow>(
        'SELECT task_id, address, private_key, final_deadline FROM tee_challenges WHERE task_id = $1',
        [taskId.toLowerCase()],
      );
      return r.rows[0] && toChallenge(r.rows[0]);
    },
    async deleteExpiredChallenges(nowSeconds) {
      const r = await pool.query('DELETE FROM tee_challenges WHERE final_deadline < $1', [nowSeconds]);
      return r.rowCount ?? 0;
    },
    async useNonce(nonce, expiresAtMs) {
      const r = await pool.query(
        'INSERT INTO used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [nonce, expiresAtMs],
      );
      return r.rowCount === 1;
    },
    async deleteExpiredNonces(nowMs) {
      const r = await pool.query('DELETE FROM used_nonces WHERE expires_at < $1', [nowMs]);
      return r.rowCount ?? 0;
    },
    appendAudit(e) {
      return audit.push(e);
    },
    async listAudit(opts = {}) {
      const r = opts.taskId
        ? await pool.query<AuditRow>('SELECT * FROM audit_log WHERE task_id = $1 ORDER BY id DESC LIMIT $2', [
            opts.taskId.toLowerCase(),
            opts.limit ?? 100,
          ])
        : await pool.query<AuditRow>('SELECT * FROM audit_log ORDER BY id DESC LIMIT $1', [
            opts.limit ?? 100,
          ]);
      return r.rows.map(fromAuditRow);
    },
    async getMeta(key) {
      const r = await pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
      return r.rows[0]?.value;
    },
    async setMeta(key, value) {
      await pool.query(
        'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [key, value],
      );
    },
    async durability() {
      const r = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
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
