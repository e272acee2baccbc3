/**
 * The app's stdout and stderr of each task, as the worker captured them (bounded: the last
 * 64 KiB of each), kept under `<home>/worker/logs/<task>.json` (0600 in a 0700 folder: logs can
 * carry data), and served only to the task's requester: `POST /tasks/<task>/logs` with an EIP-712
 * signature of `TaskLogsRequest` (src/protocol/task-logs.ts) by the requester's wallet, recent
 * within ±5 minutes of the worker's clock. The worker learned the requester from the deal on chain
 * when it ran the task.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { isAddressEqual, recoverTypedDataAddress, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { SealworkError, errorCodeSpec, isSealworkError, type ErrorCode } from '../errors.js';
import { TASK_LOGS_MAX_SKEW_S, taskLogsTypedData } from '../protocol/task-logs.js';
import { writeFileAtomic } from '../util/atomic.js';
import { loadOrCreateTls } from '../util/tls.js';
import { describeTunnel, type EgressRecord } from '../enclave/index.js';

/** Bytes kept of each stream (the end: where a failure shows). */
export const TASK_LOG_BYTES = 64 * 1024;

export interface TaskLogs {
  taskId: Hex;
  requester: Address;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** True when the app wrote more than was kept (by the sandbox's bound or this one). */
  truncated: boolean;
  durationMs: number;
  at: string;
  /** Network-shielded apps: one line per tunnel (destination, address, verdict, bytes; no payload). */
  network?: string[];
}

const TASK_ID = /^0x[0-9a-f]{64}$/;

function logsDir(home: string): string {
  return join(home, 'worker', 'logs');
}

function tail(s: string): { text: string; cut: boolean } {
  const b = Buffer.from(s);
  if (b.length <= TASK_LOG_BYTES) return { text: s, cut: false };
  return { text: b.subarray(b.length - TASK_LOG_BYTES).toString('utf8'), cut: true };
}

/** Keep a run's logs for the requester (replacing an earlier attempt's). */
export async function saveTaskLogs(
  home: string,
  task: { taskId: Hex; requester: Address },
  run: {
    exitCode: number | null;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
    durationMs: number;
    network?: { tunnels: EgressRecord[] };
  },
): Promise<void> {
  const dir = logsDir(home);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const out = tail(run.stdout);
  const err = tail(run.stderr);
  const logs: TaskLogs = {
    taskId: task.taskId.toLowerCase() as Hex,
    requester: task.requester,
    exitCode: run.exitCode,
    signal: run.signal,
    timedOut: run.timedOut,
    stdout: out.text,
    stderr: err.text,
    truncated: out.cut || err.cut || run.stdoutTruncated || run.stderrTruncated,
    durationMs: run.durationMs,
    at: new Date().toISOString(),
    ...(run.network ? { network: run.network.tunnels.map(describeTunnel) } : {}),
  };
  await writeFileAtomic(join(dir, `${logs.taskId}.json`), JSON.stringify(logs), { mode: 0o600, force: true });
}

export async function readTaskLogs(home: string, taskId: string): Promise<TaskLogs | undefined> {
  const id = taskId.toLowerCase();
  if (!TASK_ID.test(id)) return undefined;
  const text = await fs.readFile(join(logsDir(home), `${id}.json`), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as TaskLogs);
}

const RequestSchema = z.object({
  requester: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  issuedAt: z.number().int().nonnegative(),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});

function fail(code: ErrorCode, message: string): never {
  throw new SealworkError(code, message);
}

/** Check a logs request; returns the logs (or throws the coded refusal). */
export async function authorizeLogsRequest(
  home: string,
  chainId: number,
  taskId: string,
  body: unknown,
  now = Math.floor(Date.now() / 1000),
): Promise<TaskLogs> {
  const b = RequestSchema.safeParse(body);
  if (!TASK_ID.test(taskId.toLowerCase()) || !b.success)
    fail(
      'TASK_LOGS_REQUEST_INVALID',
      'Expected POST /tasks/<task id>/logs with {requester, issuedAt, signature}.',
    );
  const { requester, issuedAt, signature } = b.data;
  if (Math.abs(now - issuedAt) > TASK_LOGS_MAX_SKEW_S)
    fail('TASK_LOGS_REQUEST_EXPIRED', `The request was signed at ${issuedAt}, the worker's time is ${now}.`);
  const signer = await recoverTypedDataAddress({
    ...taskLogsTypedData(chainId, {
      taskId: taskId.toLowerCase() as Hex,
      requester: requester as Address,
      issuedAt,
    }),
    signature: signature as Hex,
  }).catch(() => fail('TASK_LOGS_REQUEST_INVALID', 'The signature cannot be read.'));
  if (!isAddressEqual(signer, requester as Address))
    fail('TASK_LOGS_REFUSED', `The request is signed by ${signer}, not by ${requester}.`);
  const logs = await readTaskLogs(home, taskId);
  // Same answer for "no such task here" and "not yours" would hide existence; the task id and its
  // requester are public on chain anyway, so the refusal says which.
  if (!logs) fail('TASK_LOGS_NOT_FOUND', `This worker holds no logs for task ${taskId}.`);
  if (!isAddressEqual(logs.requester, signer))
    fail('TASK_LOGS_REFUSED', `Only the task's requester reads its logs; ${signer} is not it.`);
  return logs;
}

/** The worker's logs API as a hono app. */
export function createLogsApp(o: { home: string; chainId: number }): Hono {
  const app = new Hono();
  app.post('/tasks/:taskId/logs', async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    return c.json(await authorizeLogsRequest(o.home, o.chainId, c.req.param('taskId'), body));
  });
  app.onError((err, c) => {
    if (isSealworkError(err)) {
      const st = errorCodeSpec(err.code).status;
      const status = (Array.isArray(st) ? st[0] : st) ?? 400;
      return c.json({ error: { code: err.code, message: err.message } }, status as 400);
    }
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });
  return app;
}

export interface LogsServer {
  url: string;
  certPath: string;
  close(): Promise<void>;
}

/** Serve the logs API on 127.0.0.1 over TLS; records `<home>/worker/logs-endpoint.json`. */
export async function startLogsServer(o: {
  home: string;
  chainId: number;
  port?: number;
}): Promise<LogsServer> {
  const tls = await loadOrCreateTls({
    dir: join(o.home, 'worker', 'api-tls'),
    commonName: 'sealwork worker (self-signed)',
  });
  const app = createLogsApp(o);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname: '127.0.0.1',
        port: o.port ?? 0,
        createServer: createHttpsServer,
        serverOptions: { cert: tls.cert, key: tls.key },
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = join(o.home, 'worker', 'logs-endpoint.json');
  await writeFileAtomic(file, JSON.stringify({ url, certPath: tls.certPath, pid: process.pid }), {
    force: true,
  });
  return {
    url,
    certPath: tls.certPath,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
        void fs.rm(file, { force: true });
      }),
  };
}
