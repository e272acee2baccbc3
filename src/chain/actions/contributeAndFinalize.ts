import { zeroAddress, type Address, type Hex } from 'viem';
import { simulateContract, writeContract } from 'viem/actions';
import { hubAbi } from '../generated/hub.js';
import type { ChainWriter, TxResult } from '../types.js';
import { sendContractCall, txOf, type SendOptions } from './internal/send.js';

export interface ContributeAndFinalizeParameters extends SendOptions {
  taskid: Hex;
  resultDigest: Hex;
  /** Result location (e.g. a storage URL as UTF-8 bytes), or hex. */
  results: Hex;
  resultsCallback?: Hex;
  /** Enclave challenge address (zero address for a non-TEE task). */
  enclaveChallenge?: Address;
  enclaveSign?: Hex;
  authorizationSign: Hex;
}

/** contributeAndFinalize by the worker → task COMPLETED (see formulas.ts for the signatures). */
export async function contributeAndFinalize(
  c: ChainWriter,
  p: ContributeAndFinalizeParameters,
): Promise<TxResult> {
  const r = await sendContractCall(
    c,
    async (account, wallet) => {
      const { request, result } = await simulateContract(c.publicClient, {
        address: c.deployment.hub,
        abi: hubAbi,
        functionName: 'contributeAndFinalize',
        args: [
          p.taskid,
          p.resultDigest,
          p.results,
          p.resultsCallback ?? '0x',
          p.enclaveChallenge ?? zeroAddress,
          p.enclaveSign ?? '0x',
          p.authorizationSign,
        ],
        account,
      });
      return { result, hash: await writeContract(wallet, request) };
    },
    p.onHash ? { onHash: p.onHash } : {},
  );
  return txOf(r);
}
