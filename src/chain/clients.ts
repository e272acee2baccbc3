/**
 * viem clients for a sealwork chain: URL from the option, SEALWORK_CHAIN_URL, else the embedded
 * chain's recorded URL; signer from the option, a named dev account, SEALWORK_PRIVATE_KEY, else
 * the encrypted keystore.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Chain,
  type LocalAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
  type Account,
} from 'viem';
import type { ChainWriter, SignerClient } from './types.js';
import { privateKeyToAccount } from 'viem/accounts';
import { SealworkError } from '../errors.js';
import { chainDir, findDeployment, type Deployment } from './deployment.js';
import { walletMissingError } from './errors.js';
import { decryptKeystore, devAccountByName, keystorePath, parsePrivateKey, readKeystore } from './wallet.js';

/** anvil's default chain id: named dev accounts are allowed only there. */
export const DEV_CHAIN_ID = 31337;

export interface EmbeddedChainRecord {
  url: string;
  port: number;
  pid: number;
  statePath: string;
  startedAt: string;
}

export function embeddedRecordPath(home: string): string {
  return join(chainDir(home), 'embedded.json');
}

export async function readEmbeddedRecord(home: string): Promise<EmbeddedChainRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(embeddedRecordPath(home), 'utf8')) as EmbeddedChainRecord;
  } catch {
    return undefined;
  }
}

/** The chain URL: explicit, then SEALWORK_CHAIN_URL, then the embedded chain's recorded URL. */
export async function resolveChainUrl(home: string, chainUrl?: string): Promise<string> {
  const url = chainUrl ?? process.env.SEALWORK_CHAIN_URL;
  if (url && url.length > 0) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw new SealworkError('CHAIN_URL_INVALID', `${url} is not an http(s) JSON-RPC URL.`, {
        hint: 'Give a full URL, e.g. http://127.0.0.1:8545 (--chain-url or SEALWORK_CHAIN_URL).',
        details: { url },
      });
    return url;
  }
  const rec = await readEmbeddedRecord(home);
  if (rec) return rec.url;
  throw new SealworkError('CHAIN_NOT_CONFIGURED', 'No chain is configured.', {
    hint: 'Start the embedded chain with `sealwork chain start`, or pass --chain-url / set SEALWORK_CHAIN_URL.',
  });
}

export function chainFor(chainId: number, url: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === DEV_CHAIN_ID ? 'sealwork-dev' : `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
}

async function probeChainId(url: string): Promise<number> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0, timeout: 5000 }) });
  try {
    return await client.getChainId();
  } catch (e) {
    throw new SealworkError('CHAIN_UNREACHABLE', `The chain at ${url} does not answer.`, {
      hint: 'Check the URL, or start the embedded chain with `sealwork chain start`.',
      details: { url },
      cause: e,
    });
  }
}

export interface ResolveAccountParameters {
  home: string;
  privateKey?: string;
  /** A named anvil dev account (`app-dev`, `dataset-owner`, `workerpool`, `requester`, ...). */
  as?: string;
  /** Keystore password (else SEALWORK_WALLET_PASSWORD, else `promptPassword`). */
  password?: string;
  promptPassword?: () => Promise<string>;
  keystore?: string;
}

/** The signer: privateKey, then `as`, then SEALWORK_PRIVATE_KEY, then the keystore; undefined if none. */
export async function resolveAccount(p: ResolveAccountParameters): Promise<LocalAccount | undefined> {
  if (p.privateKey) return privateKeyToAccount(parsePrivateKey(p.privateKey, 'The private key'));
  if (p.as) return devAccountByName(p.as);
  const env = process.env.SEALWORK_PRIVATE_KEY;
  if (env) return privateKeyToAccount(parsePrivateKey(env, 'SEALWORK_PRIVATE_KEY'));
  const path = p.keystore ?? keystorePath(p.home);
  const ks = await readKeystore(path);
  if (!ks) return undefined;
  let password = p.password ?? process.env.SEALWORK_WALLET_PASSWORD;
  if (password === undefined && p.promptPassword) password = await p.promptPassword();
  if (password === undefined)
    throw new SealworkError(
      'WALLET_PASSWORD_REQUIRED',
      `The wallet ${path} is encrypted and no password was given.`,
      {
        hint: 'Run in a terminal to be prompted, or set SEALWORK_WALLET_PASSWORD.',
      },
    );
  return privateKeyToAccount(await decryptKeystore(ks, password));
}

export interface CreateChainClientsParameters extends Omit<ResolveAccountParameters, 'home'> {
  home: string;
  chainUrl?: string;
  /** Fail with WALLET_MISSING when no signer is configured. */
  requireWallet?: boolean;
}

export interface ChainClients {
  url: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** Present when a signer is configured. */
  walletClient: WalletClient<Transport, Chain, Account> | undefined;
  account: LocalAccount | undefined;
  deployment: Deployment;
}

export async function createChainClients(p: CreateChainClientsParameters): Promise<ChainClients> {
  const url = await resolveChainUrl(p.home, p.chainUrl);
  const chainId = await probeChainId(url);
  const chain = chainFor(chainId, url);
  const publicClient = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
  if (p.as && chainId !== DEV_CHAIN_ID)
    throw new SealworkError(
      'DEV_ACCOUNT_NOT_ALLOWED',
      `Named dev accounts exist only on a local dev chain (id ${DEV_CHAIN_ID}).`,
      {
        hint: 'Use SEALWORK_PRIVATE_KEY or a wallet on this chain.',
        details: { chainId },
      },
    );
  const account = await resolveAccount({ ...p, home: p.home });
  if (!account && p.requireWallet) throw walletMissingError();
  const walletClient = account
    ? createWalletClient({ chain, transport: http(url), account, pollingInterval: 100 })
    : undefined;
  const deployment = await findDeployment(p.home, url, publicClient);
  return { url, chain, publicClient, walletClient, account, deployment };
}

/** A writer signing as `account` on the same chain (e.g. a worker's scheduler and worker wallets). */
export function chainWriterFor(
  c: Pick<ChainClients, 'url' | 'chain' | 'publicClient' | 'deployment'>,
  account: Account,
): ChainWriter & { walletClient: SignerClient } {
  return {
    publicClient: c.publicClient,
    walletClient: createWalletClient({
      chain: c.chain,
      transport: http(c.url),
      account,
      pollingInterval: 100,
    }),
    deployment: c.deployment,
  };
}

/** The deployment for the configured chain (see resolveChainUrl). */
export async function loadDeployment(home: string, chainUrl?: string): Promise<Deployment> {
  const url = await resolveChainUrl(home, chainUrl);
  const chainId = await probeChainId(url);
  const publicClient = createPublicClient({ chain: chainFor(chainId, url), transport: http(url) });
  return findDeployment(home, url, publicClient);
}
