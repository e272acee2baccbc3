/**
 * Child process of the iExec SDK end-to-end test: drives the real `iexec` SDK (v9) against a
 * sealwork stack. argv[2]: JSON {chainUrl, hubAddress, smsURL, ipfsGatewayURL, iexecGatewayURL?}.
 * Run with NODE_EXTRA_CA_CERTS = the SMS and storage certificates, as a real deployment would
 * trust its CA.
 *
 * Reads one JSON command a line on stdin, `{id, key, call, args}`: `call` is an SDK method path
 * (`order.matchOrders`, `deal.claim`, `app.showUserApp`, …) called on an IExec signing with `key`,
 * or `utils.<fn>`, or `waitTask` (obsTask until the task completes or fails), or `advanceClock`
 * (the SDK's wall clock moves forward by args[0] seconds, as the test moves anvil's: `deal.claim`
 * compares the deal's final time with Date.now()). `{"$b64": "…"}` in
 * args is a Buffer. Answers one line `{id, result}` or `{id, error}`; Buffers and responses come
 * back as `{"$b64": "…"}`, big numbers as decimal strings.
 */
import { createInterface } from 'node:readline';
import { JsonRpcProvider, Wallet } from 'ethers';
import { IExec, utils } from 'iexec';

const cfg = JSON.parse(process.argv[2]!) as {
  chainUrl: string;
  hubAddress: string;
  smsURL: string;
  ipfsGatewayURL: string;
  iexecGatewayURL?: string;
};
const realNow = Date.now.bind(Date);
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

const sdks = new Map<string, IExec>();
const sdk = (key: string): IExec => {
  let s = sdks.get(key);
  if (!s) {
    s = new IExec(
      // An ethers signer whose provider does not cache reads: anvil mines each transaction at
      // once, and ethers' default 250 ms cache would hand two transactions sent back to back the
      // same nonce (docs/iexec-compat.md). `utils.getSignerFromPrivateKey` is fine on a real chain.
      { ethProvider: new Wallet(key, new JsonRpcProvider(cfg.chainUrl, undefined, { cacheTimeout: -1 })) },
      {
        hubAddress: cfg.hubAddress,
        smsURL: cfg.smsURL,
        ipfsGatewayURL: cfg.ipfsGatewayURL,
        ...(cfg.iexecGatewayURL ? { iexecGatewayURL: cfg.iexecGatewayURL } : {}),
      },
    );
    sdks.set(key, s);
  }
  return s;
};

const decode = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$b64 === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$b64, 'base64');
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
  }
  return v;
};

const encode = async (v: unknown): Promise<unknown> => {
  if (v instanceof Response) return { $b64: Buffer.from(await v.arrayBuffer()).toString('base64') };
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $b64: Buffer.from(v).toString('base64') };
  if (v instanceof ArrayBuffer) return { $b64: Buffer.from(v).toString('base64') };
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return Promise.all(v.map(encode));
  if (v && typeof v === 'object') {
    // bn.js numbers (the SDK's BN) print as decimal.
    if (typeof (v as { toNumber?: unknown }).toNumber === 'function' && 'words' in v) return String(v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await encode(x);
    return out;
  }
  return v;
};

/** obsTask until COMPLETED (resolves the last task state) or FAILED / TIMEOUT (rejects). */
const waitTask = (key: string, taskid: string, dealid: string) =>
  new Promise<unknown>((resolve, reject) => {
    void sdk(key)
      .task.obsTask(taskid, { dealid })
      .then((obs) => {
        let last: unknown;
        obs.subscribe({
          next: (e: { message: string; task: unknown }) => {
            last = e.task;
            if (e.message === 'TASK_FAILED' || e.message === 'TASK_TIMEDOUT')
              reject(new Error(`${e.message}: ${JSON.stringify(e.task)}`));
          },
          error: reject,
          complete: () => resolve(last),
        });
      }, reject);
  });

const run = async (cmd: { key: string; call: string; args: unknown[] }): Promise<unknown> => {
  const args = decode(cmd.args ?? []) as unknown[];
  if (cmd.call === 'advanceClock') {
    clockOffsetMs += Number(args[0]) * 1000;
    return Date.now();
  }
  if (cmd.call === 'waitTask') return waitTask(cmd.key, args[0] as string, args[1] as string);
  const [mod, fn] = cmd.call.split('.') as [string, string];
  const target = (
    mod === 'utils' ? utils : (sdk(cmd.key) as unknown as Record<string, unknown>)[mod]
  ) as Record<string, (...a: unknown[]) => unknown>;
  if (typeof target?.[fn] !== 'function') throw new Error(`no SDK call ${cmd.call}`);
  return target[fn]!(...args);
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; key: string; call: string; args: unknown[] };
  run(cmd)
    .then(encode)
    .then(
      (result) => process.stdout.write(`${JSON.stringify({ id: cmd.id, result: result ?? null })}\n`),
      (e: unknown) =>
        process.stdout.write(
          `${JSON.stringify({ id: cmd.id, error: e instanceof Error ? e.message : String(e) })}\n`,
        ),
    );
});
rl.on('close', () => process.exit(0));
