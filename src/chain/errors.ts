/**
 * Turn a contract revert (any custom error of the sealwork contracts or OpenZeppelin's) into a
 * SealworkError with a stable code and a sentence a user understands.
 */
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type Hex } from 'viem';
import { TASK_STATUSES } from '../protocol/index.js';
import { SealworkError, type ErrorCode } from '../errors.js';
import { appRegistryAbi } from './generated/appRegistry.js';
import { datasetRegistryAbi } from './generated/datasetRegistry.js';
import { hubAbi } from './generated/hub.js';
import { workerpoolRegistryAbi } from './generated/workerpoolRegistry.js';

/** Every custom error the contracts can raise (deduplicated by name). */
export const chainErrorsAbi: Abi = (() => {
  const seen = new Set<string>();
  return [...hubAbi, ...appRegistryAbi, ...datasetRegistryAbi, ...workerpoolRegistryAbi].filter((x) => {
    if (x.type !== 'error' || seen.has(x.name)) return false;
    seen.add(x.name);
    return true;
  }) as Abi;
})();

const ORDER = ['app order', 'dataset order', 'workerpool order', 'request order'];
const RESTRICTED = ['apps', 'datasets', 'workerpools', 'requesters'];
const USES = ['app', 'dataset', 'workerpool', 'requester'];

const short = (a: unknown) => String(a);
const when = (t: unknown) => new Date(Number(t) * 1000).toISOString();

type Sentence = { code: ErrorCode; message: (a: readonly unknown[]) => string; hint?: string };

/** Custom error name → stable code + sentence. */
export const CHAIN_ERROR_MESSAGES: Record<string, Sentence> = {
  PriceNotZero: {
    code: 'ORDER_PRICE_NOT_ZERO',
    message: (a) =>
      `The ${ORDER[Number(a[0])]} has price ${a[1]}; prices must be 0 (payments are not supported yet).`,
    hint: 'Sign the order again with price 0.',
  },
  AssetNotRegistered: {
    code: 'ASSET_NOT_REGISTERED',
    message: (a) => `The ${ORDER[Number(a[0])]} names ${short(a[1])}, which is not registered on this chain.`,
    hint: 'Deploy the asset first, or check the address and the chain.',
  },
  RequestAppMismatch: {
    code: 'ORDER_APP_MISMATCH',
    message: (a) => `The request asks for app ${short(a[0])}; the app order is for ${short(a[1])}.`,
  },
  RequestDatasetMismatch: {
    code: 'ORDER_DATASET_MISMATCH',
    message: (a) => `The request asks for dataset ${short(a[0])}; the dataset order is for ${short(a[1])}.`,
  },
  RequestWorkerpoolMismatch: {
    code: 'ORDER_WORKERPOOL_MISMATCH',
    message: (a) =>
      `The request asks for workerpool ${short(a[0])}; the workerpool order is for ${short(a[1])}.`,
  },
  CategoryMismatch: {
    code: 'ORDER_CATEGORY_MISMATCH',
    message: (a) => `The request is for category ${a[0]}; the workerpool order offers category ${a[1]}.`,
  },
  UnknownCategory: {
    code: 'CATEGORY_UNKNOWN',
    message: (a) => `Category ${a[0]} does not exist on this hub.`,
  },
  TrustTooHigh: {
    code: 'ORDER_TRUST_TOO_HIGH',
    message: (a) => `The request asks for trust ${a[0]}; the workerpool order offers only ${a[1]}.`,
  },
  TagNotSupported: {
    code: 'ORDER_TAG_NOT_SUPPORTED',
    message: (a) => `The deal needs tag ${a[0]} but the workerpool order offers only ${a[1]}.`,
    hint: 'Use a workerpool order with the TEE tag, or drop the tag from the other orders.',
  },
  TeeNotAllowedByApp: {
    code: 'ORDER_TEE_NOT_ALLOWED_BY_APP',
    message: (a) =>
      `The deal needs a TEE (tag ${a[0]}) but the app order does not have the TEE tag (${a[1]}).`,
    hint: 'Sign the app order with --tag tee.',
  },
  RestrictionViolated: {
    code: 'ORDER_RESTRICTED',
    message: (a) =>
      `The ${ORDER[Number(a[0])]} restricts ${RESTRICTED[Number(a[1])]} to ${short(a[2])}; this match uses ${USES[Number(a[1])]} ${short(a[3])}.`,
  },
  InvalidOrderSignature: {
    code: 'ORDER_SIGNATURE_INVALID',
    message: (a) =>
      `The ${ORDER[Number(a[0])]} ${short(a[1])} is neither signed by ${short(a[2])} nor published on chain.`,
    hint: 'Sign it with the owner’s wallet (the requester for a request order).',
  },
  OrderConsumed: {
    code: 'ORDER_CONSUMED',
    message: (a) =>
      `The ${ORDER[Number(a[0])]} ${short(a[1])} has no volume left (volume ${a[2]}, consumed or cancelled).`,
    hint: 'Sign a new order.',
  },
  NotOrderOwner: {
    code: 'ORDER_NOT_OWNER',
    message: (a) =>
      `Only ${short(a[1])} may publish or cancel this ${ORDER[Number(a[0])]}; the sender is ${short(a[2])}.`,
    hint: 'Use the owner’s wallet.',
  },
  DealNotFound: { code: 'DEAL_NOT_FOUND', message: (a) => `There is no deal ${short(a[0])}.` },
  NotWorkerpoolOwner: {
    code: 'TASK_NOT_WORKERPOOL_OWNER',
    message: (a) =>
      `Only the workerpool owner ${short(a[1])} may initialize tasks of deal ${short(a[0])}; the sender is ${short(a[2])}.`,
  },
  TaskIndexOutOfRange: {
    code: 'TASK_INDEX_OUT_OF_RANGE',
    message: (a) =>
      `Task index ${a[1]} is outside deal ${short(a[0])} (tasks ${a[2]}..${BigInt(a[2] as bigint) + BigInt(a[3] as bigint) - 1n}).`,
  },
  TaskWrongStatus: {
    code: 'TASK_WRONG_STATUS',
    message: (a) =>
      `Task ${short(a[0])} is ${TASK_STATUSES[Number(a[1])] ?? a[1]}, which does not allow this.`,
  },
  ContributionDeadlineReached: {
    code: 'TASK_CONTRIBUTION_DEADLINE',
    message: (a) => `The contribution deadline of task ${short(a[0])} passed at ${when(a[1])}.`,
    hint: 'After its final deadline, anyone can mark it FAILED with `sealwork task claim`.',
  },
  FinalDeadlineNotReached: {
    code: 'TASK_FINAL_DEADLINE_NOT_REACHED',
    message: (a) => `Task ${short(a[0])} can be claimed only after its final deadline ${when(a[1])}.`,
  },
  ConsensusRequired: {
    code: 'TASK_CONSENSUS_REQUIRED',
    message: (a) =>
      `Task ${short(a[0])} has trust ${a[1]}; contributeAndFinalize supports trust 0 or 1 only.`,
  },
  EnclaveChallengeRequired: {
    code: 'TASK_ENCLAVE_REQUIRED',
    message: (a) => `Task ${short(a[0])} is a TEE task: the result must be signed by an enclave.`,
  },
  InvalidAuthorization: {
    code: 'TASK_AUTHORIZATION_INVALID',
    message: (a) =>
      `The workerpool owner ${short(a[3])} did not authorize worker ${short(a[1])} with enclave ${short(a[2])} for task ${short(a[0])}.`,
  },
  InvalidEnclaveSignature: {
    code: 'TASK_ENCLAVE_SIGNATURE_INVALID',
    message: (a) => `The result of task ${short(a[0])} is not signed by the enclave key ${short(a[1])}.`,
  },
  ResultsCallbackMismatch: {
    code: 'TASK_CALLBACK_MISMATCH',
    message: (a) => `For task ${short(a[0])}, keccak256(resultsCallback) must equal the result digest.`,
  },
  ArrayLengthMismatch: {
    code: 'TASK_ARRAY_LENGTH_MISMATCH',
    message: (a) => `${a[0]} deal ids were given with ${a[1]} task indexes; give one index per deal id.`,
  },
  AssetAlreadyExists: {
    code: 'ASSET_ALREADY_EXISTS',
    message: (a) => `This asset already exists at ${short(a[0])} (same parameters and owner).`,
    hint: 'Use the existing address, or change the name.',
  },
  AlreadyInitialized: {
    code: 'ASSET_ALREADY_INITIALIZED',
    message: () => 'The asset is already initialized.',
  },
  ERC721NonexistentToken: {
    code: 'ASSET_NOT_REGISTERED',
    message: (a) => `No asset is registered with token id ${short(a[0])}.`,
  },
  ERC721OutOfBoundsIndex: {
    code: 'ASSET_INDEX_OUT_OF_RANGE',
    message: (a) =>
      `${short(a[0])} owns fewer than ${Number(a[1]) + 1} assets of this registry (index ${a[1]}).`,
    hint: "Count the owner's assets first (balanceOf), then ask for an index below that count.",
  },
  ERC721EnumerableForbiddenBatchMint: {
    code: 'ASSET_CREATE_FAILED',
    message: () => 'The registry refused a batch mint (enumerable registries mint one asset at a time).',
  },
  ERC721InvalidReceiver: {
    code: 'ASSET_OWNER_INVALID',
    message: (a) => `${short(a[0])} cannot own an asset.`,
    hint: 'Give a non-zero owner address.',
  },
  ERC721InsufficientApproval: {
    code: 'ASSET_NOT_OWNER',
    message: (a) => `${short(a[0])} may not transfer asset token ${short(a[1])}.`,
  },
  ERC721IncorrectOwner: {
    code: 'ASSET_NOT_OWNER',
    message: (a) => `${short(a[0])} does not own asset token ${short(a[1])} (owner ${short(a[2])}).`,
  },
  ERC721InvalidApprover: {
    code: 'ASSET_NOT_OWNER',
    message: (a) =>
      `${short(a[0])} may not approve transfers of this asset: it is not its owner or operator.`,
  },
  ERC721InvalidOperator: {
    code: 'ASSET_OPERATOR_INVALID',
    message: (a) => `${short(a[0])} cannot be made an operator of assets.`,
    hint: 'Give a non-zero operator address.',
  },
  ERC721InvalidOwner: {
    code: 'ASSET_OWNER_INVALID',
    message: (a) => `${short(a[0])} cannot own assets.`,
    hint: 'Give a non-zero owner address.',
  },
  ERC721InvalidSender: {
    code: 'ASSET_ALREADY_EXISTS',
    message: (a) => `The asset token cannot be minted again (sender ${short(a[0])}).`,
  },
  FailedDeployment: {
    code: 'ASSET_CREATE_FAILED',
    message: () => 'The asset contract could not be created (clone deployment failed).',
    hint: 'Check that the chain supports CREATE2 and EIP-1167 proxies.',
  },
  InsufficientBalance: {
    code: 'CHAIN_INSUFFICIENT_BALANCE',
    message: (a) => `The contract balance ${a[0]} is below the ${a[1]} needed.`,
  },
  InvalidShortString: {
    code: 'CHAIN_REVERTED',
    message: () => 'A string given to the hub is not a valid short string.',
  },
  StringTooLong: {
    code: 'CHAIN_REVERTED',
    message: (a) => `The string "${a[0]}" is too long for the hub.`,
  },
  OwnableInvalidOwner: {
    code: 'HUB_OWNER_INVALID',
    message: (a) => `${short(a[0])} cannot own the hub.`,
    hint: 'Give a non-zero address.',
  },
  OwnableUnauthorizedAccount: {
    code: 'HUB_NOT_OWNER',
    message: (a) => `Only the hub owner may do this; the sender is ${short(a[0])}.`,
  },
};

/** WALLET_MISSING: a transaction is needed and no signer is configured. */
export function walletMissingError(): SealworkError {
  return new SealworkError(
    'WALLET_MISSING',
    'This command sends a transaction and no wallet is configured.',
    {
      hint: 'Set SEALWORK_PRIVATE_KEY, create one with `sealwork wallet create`, or use --as <dev account> on the embedded chain.',
    },
  );
}

function sentence(name: string, args: readonly unknown[], cause: unknown): SealworkError {
  const s = CHAIN_ERROR_MESSAGES[name];
  if (!s)
    return new SealworkError('CHAIN_REVERTED', `The transaction reverted with ${name}.`, {
      details: { error: name, args: args.map(String) },
      cause,
    });
  return new SealworkError(s.code, s.message(args), {
    hint: s.hint,
    details: { error: name, args: args.map((x) => (typeof x === 'bigint' ? x.toString() : x)) },
    cause,
  });
}

/** Decode raw revert data (selector + args) with every contract error. */
export function decodeRevertData(data: Hex, cause?: unknown): SealworkError | undefined {
  try {
    const r = decodeErrorResult({ abi: chainErrorsAbi, data });
    return sentence(r.errorName, (r.args ?? []) as readonly unknown[], cause);
  } catch {
    return undefined;
  }
}

/**
 * Map anything thrown by a viem contract call to a SealworkError. Custom errors become their
 * sentence; other failures become CHAIN_REVERTED / CHAIN_UNREACHABLE / CHAIN_ERROR.
 */
export function decodeChainError(err: unknown): SealworkError {
  if (err instanceof SealworkError) return err;
  if (err instanceof BaseError) {
    const reverted = err.walk(
      (e) => e instanceof ContractFunctionRevertedError,
    ) as ContractFunctionRevertedError | null;
    if (reverted) {
      if (
        reverted.data?.errorName &&
        reverted.data.errorName !== 'Error' &&
        reverted.data.errorName !== 'Panic'
      )
        return sentence(reverted.data.errorName, (reverted.data.args ?? []) as readonly unknown[], err);
      if (reverted.raw) {
        const d = decodeRevertData(reverted.raw, err);
        if (d) return d;
      }
      return new SealworkError(
        'CHAIN_REVERTED',
        `The transaction reverted: ${reverted.reason ?? reverted.shortMessage}`,
        {
          cause: err,
        },
      );
    }
    const withData = err.walk((e) => typeof (e as { data?: unknown }).data === 'string') as {
      data?: Hex;
    } | null;
    if (withData?.data && withData.data.length >= 10) {
      const d = decodeRevertData(withData.data, err);
      if (d) return d;
    }
    if (err.walk((e) => (e as Error).name === 'InsufficientFundsError'))
      return new SealworkError('WALLET_INSUFFICIENT_FUNDS', 'The wallet has not enough ETH to pay for gas.', {
        hint: 'Fund it; on the embedded chain: `sealwork chain fund <address>`, or use --as <dev account>.',
        cause: err,
      });
    const name = err.walk(
      (e) => (e as Error).name === 'HttpRequestError' || (e as Error).name === 'TimeoutError',
    );
    if (name)
      return new SealworkError('CHAIN_UNREACHABLE', `The chain does not answer: ${err.shortMessage}`, {
        hint: 'Check --chain-url / SEALWORK_CHAIN_URL, or start the embedded chain with `sealwork chain start`.',
        cause: err,
      });
    return new SealworkError('CHAIN_ERROR', err.shortMessage, { cause: err });
  }
  return new SealworkError('CHAIN_ERROR', (err as Error)?.message ?? String(err), { cause: err });
}

/** True for the errors that say the chain node could not be reached or answered badly (an SMS answers 503). */
export function isChainUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return (
    code === 'CHAIN_UNAVAILABLE' ||
    code === 'CHAIN_UNREACHABLE' ||
    code === 'CHAIN_RPC_ERROR' ||
    (e as Error)?.name === 'HttpRequestError'
  );
}
