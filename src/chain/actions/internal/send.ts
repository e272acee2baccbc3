/**
 * One transaction, the same way for every write: simulate (a revert becomes a decoded
 * SealworkError before anything is sent), send, report the hash, wait for the receipt. Sends of
 * one account are serialized (simulate + send), so concurrent callers never race on its nonce.
 */
import type { Account, Hex, TransactionReceipt } from 'viem';
import { waitForTransactionReceipt } from 'viem/actions';
import { SealworkError } from '../../../errors.js';
import { decodeChainError, walletMissingError } from '../../errors.js';
import type { ChainWriter, SignerClient, TxResult } from '../../types.js';

export interface SendOptions {
  /** Called with the transaction hash once it is sent, before its receipt is awaited. */
  onHash?: (hash: Hex) => void;
}

/** Simulates the call as `account`, then sends it with `wallet`: the action's own typed viem calls. */
export type SimulateAndWrite<T> = (
  account: Account,
  wallet: SignerClient,
) => Promise<{ result: T; hash: Hex }>;

const queues = new Map<string, Promise<unknown>>();

/** Run `fn` after every earlier send of the same account (on the same chain) has been handed over. */
function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  queues.set(
    key,
    next.catch(() => undefined),
  );
  return next;
}

export function signer(c: ChainWriter): { wallet: SignerClient; account: Account } {
  const wallet = c.walletClient;
  if (!wallet?.account) throw walletMissingError();
  return { wallet, account: wallet.account };
}

export async function sendContractCall<T>(
  c: ChainWriter,
  simulateAndWrite: SimulateAndWrite<T>,
  options: SendOptions = {},
): Promise<{ result: T; receipt: TransactionReceipt } & TxResult> {
  const { wallet, account } = signer(c);
  const key = `${wallet.chain?.id ?? ''}:${account.address.toLowerCase()}`;
  let sent: { result: T; hash: Hex };
  try {
    sent = await serialized(key, () => simulateAndWrite(account, wallet));
  } catch (e) {
    throw decodeChainError(e);
  }
  const txHash = sent.hash;
  options.onHash?.(txHash);
  let receipt: TransactionReceipt;
  try {
    receipt = await waitForTransactionReceipt(c.publicClient, { hash: txHash });
  } catch (e) {
    throw decodeChainError(e);
  }
  if (receipt.status !== 'success')
    throw new SealworkError('CHAIN_REVERTED', `The transaction ${txHash} reverted.`, {
      details: { txHash },
    });
  return { result: sent.result, receipt, txHash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber };
}

/** The transaction fields of a send, as every write returns them. */
export function txOf(r: TxResult): TxResult {
  return { txHash: r.txHash, gasUsed: r.gasUsed, blockNumber: r.blockNumber };
}
