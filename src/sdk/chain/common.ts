import { createChainClients, type ChainClients } from '../../chain/clients.js';
import { resolveHome } from '../../util/home.js';

/** Options shared by every chain SDK call. */
export interface ChainParameters {
  home?: string;
  /** JSON-RPC URL (else SEALWORK_CHAIN_URL, else the embedded chain). */
  chainUrl?: string;
  /** Signer private key (else `as`, SEALWORK_PRIVATE_KEY, the keystore). Never printed. */
  privateKey?: string;
  /** A named dev account on the embedded chain: app-dev, dataset-owner, workerpool, requester, worker. */
  as?: string;
  /** Keystore password (else SEALWORK_WALLET_PASSWORD, else promptPassword). */
  password?: string;
  promptPassword?: () => Promise<string>;
}

export function connect(p: ChainParameters, requireWallet = false): Promise<ChainClients> {
  return createChainClients({
    home: resolveHome(p.home),
    chainUrl: p.chainUrl,
    privateKey: p.privateKey,
    as: p.as,
    password: p.password,
    promptPassword: p.promptPassword,
    requireWallet,
  });
}
