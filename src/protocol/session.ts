/**
 * The attested session between an enclave and the SMS (`POST /tee/sessions`): the request the
 * worker's enclave sends, the response, and the secrets it decrypts. The enclave puts
 * `sha256(publicKey ‖ nonce)` in REPORTDATA[0:32] of its quote.
 */
import { createHash } from 'node:crypto';
import { hexToBytes, type Address, type Hex } from 'viem';
import type { WorkerpoolAuthorization } from './authorization.js';
import type { ReleaseReceipt } from './receipt.js';

export type SessionPublicJwk =
  { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'X25519'; x: string };

/** Body of `POST /tee/sessions`. */
export interface SessionRequest {
  authorization: WorkerpoolAuthorization;
  /** The SGX quote: 0x-hex or base64. */
  quote: string;
  /** Its collateral (the attestation module's JSON shape). */
  collateral?: unknown;
  /** The enclave's ephemeral public key (P-256 or X25519 JWK). */
  publicKey: SessionPublicJwk;
  /** The nonce from `GET /tee/nonce`. */
  nonce: Hex;
}

/** 200 body of `POST /tee/sessions`. */
export interface SessionResponse {
  /** Compact JWE (ECDH-ES, A256GCM) of a `SessionSecrets` JSON, to `publicKey`. */
  jwe: string;
  taskId: Hex;
  /** Names of what was released (never values). */
  released: string[];
  /** The release receipt the SMS signed (a sealwork extension; absent from an SMS that issues none). */
  receipt?: ReleaseReceipt;
}

/** What the enclave finds in the decrypted JWE. */
export interface SessionSecrets {
  version: 1;
  task: {
    id: Hex;
    dealId: Hex;
    index: number;
    requester: Address;
    beneficiary: Address;
    workerWallet: Address;
    /** `iexec_args` from the deal params ('' when none). */
    args: string;
    /** `iexec_input_files` URLs. */
    inputFiles: string[];
    /** `iexec_result_encryption` from the deal params. */
    resultEncryption: boolean;
    /** The raw deal params JSON. */
    params: string;
  };
  app: {
    address: Address;
    multiaddr: string;
    checksum: Hex;
    mrenclave: string;
    fspfKey: string;
    fspfTag: string;
    entrypoint?: string;
    heapSize?: number | string;
    /** The app's file-system key (encrypted regions), if the owner pushed one. */
    fsKey?: string;
    /** `IEXEC_APP_DEVELOPER_SECRET`, if pushed. */
    developerSecret?: string;
  };
  dataset: { address: Address; name: string; url: string; checksum: Hex; key: string } | null;
  /** Requester secrets by index as named in `iexec_secrets` (`IEXEC_REQUESTER_SECRET_<n>`). */
  requesterSecrets: Record<string, string>;
  /** The beneficiary's result-encryption public key (base64 of a PEM), if pushed. */
  resultEncryptionKey: string | null;
  /** The task's enclave challenge key, to sign the result (`enclaveSign`). */
  enclaveChallenge: { address: Address; privateKey: Hex };
  issuedAt: string;
}

/** `sha256(publicKey ‖ nonce)`: what REPORTDATA[0:32] must hold for an attested session. */
export function sessionBinding(publicKeyBytes: Uint8Array, nonce: Hex | Uint8Array): Buffer {
  const n = typeof nonce === 'string' ? hexToBytes(nonce) : nonce;
  return createHash('sha256').update(publicKeyBytes).update(n).digest();
}
