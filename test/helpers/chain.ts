/**
 * A real anvil for tests: started on 127.0.0.1 on a free port, contracts deployed by dev account 0.
 * One per test file: `const chain = await startTestChain(); after(() => chain.stop());`
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { spawnAnvil } from '../../src/chain/anvil.js';
import { chainFor } from '../../src/chain/clients.js';
import { saveDeployment, type Deployment } from '../../src/chain/deployment.js';
import { deployContracts, type ChainWriter } from '../../src/chain/index.js';
import { devAccount } from '../../src/chain/wallet.js';

export interface TestChain {
  url: string;
  chainId: number;
  /** anvil's deterministic dev accounts 0..9 (0 deployed the contracts; 1 app-dev, 2 dataset-owner, 3 workerpool, 4 requester, 5 worker, 6 enclave). */
  accounts: { address: Address; privateKey: Hex }[];
  deployment: Deployment;
  /** Record the deployment in a sealwork home, so the CLI finds it with SEALWORK_CHAIN_URL=url. */
  saveTo(home: string): Promise<void>;
  /** Move the chain clock forward (evm_increaseTime + evm_mine). */
  increaseTime(seconds: number): Promise<void>;
  /** The anvil process id (for a supervisor that must kill it, e.g. the fuzz driver). */
  pid: number | undefined;
  /** One JSON-RPC call to the node (e.g. `evm_setAutomine`, `anvil_dropTransaction`); its result. */
  rpc(method: string, params: unknown[]): Promise<unknown>;
  /**
   * Kill anvil (SIGKILL) after saving its state (`anvil_dumpState`), run `whileDown` with the
   * node gone, then start it again on the same port from that state (`--load-state`): the same
   * chain, blocks and transactions included, as a node restarted from its snapshot. With
   * `fromState` (an earlier `dumpState()`), it restarts from that older snapshot instead.
   */
  killAndRestart(whileDown?: () => Promise<void>, fromState?: Buffer): Promise<void>;
  /** The node's state now (`anvil_dumpState`, as the JSON `--load-state` reads), for `killAndRestart`. */
  dumpState(): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startTestChain(opts: { home?: string } = {}): Promise<TestChain> {
  let anvil = await spawnAnvil();
  // Never leak an anvil if the test process exits without calling stop().
  const kill = () => anvil.child.kill('SIGKILL');
  process.once('exit', kill);
  try {
    const accounts = Array.from({ length: 10 }, (_, i) => devAccount(i));
    const chainId = 31337;
    const chain = chainFor(chainId, anvil.url);
    const publicClient = createPublicClient({ chain, transport: http(anvil.url), pollingInterval: 50 });
    const walletClient = createWalletClient({
      chain,
      transport: http(anvil.url),
      account: privateKeyToAccount(accounts[0]!.privateKey),
      pollingInterval: 50,
    });
    const deployment = {
      ...(await deployContracts(walletClient, publicClient)),
      url: anvil.url,
    };
    const saveTo = (home: string) => saveDeployment(home, deployment);
    if (opts.home) await saveTo(opts.home);
    const rpc = async (method: string, params: unknown[]): Promise<unknown> => {
      const r = await fetch(anvil.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
      const j = (await r.json()) as { result?: unknown; error?: { message: string } };
      if (j.error) throw new Error(`${method}: ${j.error.message}`);
      return j.result;
    };
    const dumpState = async () =>
      gunzipSync(Buffer.from(String(await rpc('anvil_dumpState', [])).slice(2), 'hex'));
    return {
      url: anvil.url,
      chainId,
      accounts,
      deployment,
      saveTo,
      // The current process (killAndRestart replaces it).
      get pid() {
        return anvil.child.pid;
      },
      async increaseTime(seconds) {
        await rpc('evm_increaseTime', [seconds]);
        await rpc('evm_mine', []);
      },
      rpc,
      dumpState,
      async killAndRestart(whileDown, fromState) {
        const state = fromState ?? (await dumpState());
        const dir = mkdtempSync(join(tmpdir(), 'sealwork-anvil-'));
        try {
          const file = join(dir, 'state.json');
          writeFileSync(file, state);
          const exited = new Promise((r) => anvil.child.once('exit', r));
          anvil.child.kill('SIGKILL');
          await exited;
          await whileDown?.();
          anvil = await spawnAnvil({ port: anvil.port, loadStatePath: file });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      stop: async () => {
        process.off('exit', kill);
        await anvil.stop();
      },
    };
  } catch (e) {
    await anvil.stop();
    throw e;
  }
}

/** A writer acting as one dev account, with that account at hand for signing. */
export type TestRole = ChainWriter & {
  account: PrivateKeyAccount;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, PrivateKeyAccount>;
};

/**
 * Clients on a test chain (both polling every 50 ms): one public client, and `role(i)`, a writer
 * signing as dev account `i` that shares that public client.
 */
export function testClients(chain: Pick<TestChain, 'chainId' | 'url' | 'accounts' | 'deployment'>): {
  publicClient: PublicClient;
  role(i: number): TestRole;
} {
  const c = chainFor(chain.chainId, chain.url);
  const publicClient = createPublicClient({
    chain: c,
    transport: http(chain.url),
    pollingInterval: 50,
  }) as PublicClient;
  const role = (i: number): TestRole => {
    const account = privateKeyToAccount(chain.accounts[i]!.privateKey);
    return {
      account,
      publicClient,
      walletClient: createWalletClient({
        chain: c,
        transport: http(chain.url),
        account,
        pollingInterval: 50,
      }),
      deployment: chain.deployment,
    };
  };
  return { publicClient, role };
}
