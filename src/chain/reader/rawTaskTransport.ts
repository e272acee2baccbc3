/**
 * The raw task transport of the chain reads (createChainReader's `taskTransport: 'raw'`), for the
 * SMS's release hot path: the hub's `viewTask(bytes32)` as a raw `eth_call` (selector and argument
 * encoded by hand, only the head words a session needs decoded), over a keep-alive HTTP agent,
 * with every read that arrives in the same event-loop turn sent as one JSON-RPC batch. Each read
 * is still a fresh `eth_call` against the latest block: nothing is cached. Only http(s) RPC URLs;
 * anything else reads through viem (createChainReader.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { toFunctionSelector, type Address, type Hex } from 'viem';
import { SealworkError } from '../../errors.js';
import { TaskStatus, type TaskStatusName } from '../types.js';
import type { ChainTaskInfo } from './types.js';

/** `viewTask(bytes32)` selector. */
export const VIEW_TASK_SELECTOR = toFunctionSelector('viewTask(bytes32)');

/** Max eth_calls in one JSON-RPC batch. */
const MAX_BATCH = 500;

const unavailable = (url: string, why: string, cause?: unknown) =>
  new SealworkError('CHAIN_UNAVAILABLE', `The chain node at ${url} did not answer: ${why}.`, {
    hint: 'Check that the node is running and --chain-url is right.',
    ...(cause ? { cause } : {}),
  });

/**
 * Decode the head of an ABI-encoded `LibCore.Task` (a dynamic tuple: word 0 is its offset; then
 * status, dealid, idx, timeref, contributionDeadline, revealDeadline, finalDeadline, …).
 */
export function decodeTaskHead(taskId: Hex, result: string): ChainTaskInfo {
  if (!/^0x[0-9a-fA-F]*$/.test(result) || result.length < 2 + 64 * 8)
    throw new SealworkError('CHAIN_RPC_ERROR', 'viewTask returned a malformed result.', {
      details: { taskId, bytes: (result.length - 2) / 2 },
    });
  const base = 2 + Number(BigInt(`0x${result.slice(2, 66)}`)) * 2;
  const word = (i: number) => result.slice(base + 64 * i, base + 64 * (i + 1));
  if (base + 64 * 7 > result.length)
    throw new SealworkError('CHAIN_RPC_ERROR', 'viewTask returned a malformed result.', {
      details: { taskId },
    });
  const status = Number(BigInt(`0x${word(0)}`));
  return {
    taskId,
    status: (TaskStatus[status] ?? 'UNSET') as TaskStatusName,
    dealId: `0x${word(1).toLowerCase()}` as Hex,
    index: BigInt(`0x${word(2)}`),
    finalDeadline: Number(BigInt(`0x${word(6)}`)),
  };
}

export interface TaskReader {
  task(taskId: Hex): Promise<ChainTaskInfo>;
  close(): void;
}

interface Pending {
  taskId: Hex;
  resolve: (t: ChainTaskInfo) => void;
  reject: (e: unknown) => void;
}

interface JsonRpcAnswer {
  id?: number;
  result?: string;
  error?: { code?: number; message?: string };
}

/** POST a body to a JSON-RPC URL (http or https) over one keep-alive agent; the answer as text. */
function keepAlivePoster(
  url: string,
  timeoutMs: number,
): { post(body: string): Promise<string>; close(): void } {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SealworkError(
      'CHAIN_URL_INVALID',
      `The raw task reader needs an http(s) URL, not ${u.protocol}.`,
    );
  const secure = u.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: 16 })
    : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const send = secure ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (u.username || u.password)
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  const post = (body: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = send(
        u,
        {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: timeoutMs,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(unavailable(url, e.message, e)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(unavailable(url, `HTTP ${res.statusCode}`));
            else resolve(text);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(unavailable(url, e.message, e)));
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** Settle each pending read with its answer (by JSON-RPC id); reads left unanswered fail. */
function settle(byId: Map<number, Pending>, answers: JsonRpcAnswer[]): void {
  for (const a of answers) {
    const p = typeof a?.id === 'number' ? byId.get(a.id) : undefined;
    if (!p) continue;
    byId.delete(a.id!);
    if (typeof a.result === 'string') {
      try {
        p.resolve(decodeTaskHead(p.taskId, a.result));
      } catch (e) {
        p.reject(e);
      }
    } else
      p.reject(
        new SealworkError('CHAIN_RPC_ERROR', `viewTask failed: ${a.error?.message ?? 'no result'}.`, {
          details: { taskId: p.taskId, rpcCode: a.error?.code ?? null },
        }),
      );
  }
  for (const p of byId.values())
    p.reject(new SealworkError('CHAIN_RPC_ERROR', 'The chain node did not answer this eth_call.'));
}

/** A batched, keep-alive raw `viewTask` reader for `url` (http or https) and `hub`. */
export function rawTaskReader(url: string, hub: Address, opts: { timeoutMs?: number } = {}): TaskReader {
  const http = keepAlivePoster(url, opts.timeoutMs ?? 10_000);
  const to = hub.toLowerCase();
  let queue: Pending[] = [];
  let scheduled = false;
  let nextId = 1;

  async function flush(batch: Pending[]): Promise<void> {
    const byId = new Map<number, Pending>();
    const calls = batch.map((p) => {
      const id = nextId++;
      byId.set(id, p);
      return `{"jsonrpc":"2.0","id":${id},"method":"eth_call","params":[{"to":"${to}","data":"${VIEW_TASK_SELECTOR}${p.taskId.slice(2)}"},"latest"]}`;
    });
    let answers: unknown;
    try {
      answers = JSON.parse(await http.post(`[${calls.join(',')}]`)) as unknown;
    } catch (e) {
      const err = e instanceof SealworkError ? e : unavailable(url, 'not a JSON-RPC answer', e);
      for (const p of batch) p.reject(err);
      return;
    }
    settle(byId, (Array.isArray(answers) ? answers : [answers]) as JsonRpcAnswer[]);
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const all = queue;
      queue = [];
      for (let i = 0; i < all.length; i += MAX_BATCH) void flush(all.slice(i, i + MAX_BATCH));
    });
  }

  return {
    task(taskId: Hex): Promise<ChainTaskInfo> {
      return new Promise((resolve, reject) => {
        queue.push({ taskId: taskId.toLowerCase() as Hex, resolve, reject });
        schedule();
      });
    },
    close() {
      http.close();
    },
  };
}
