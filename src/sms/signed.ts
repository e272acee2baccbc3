/**
 * The signature check of secret pushes, as hono middleware: the `Authorization` header must be the
 * EIP-191 signature of the push's challenge (iExec's formulas, which cover the value) by the
 * expected signer (the asset's owner on chain, or the owner named in the request). On success the
 * push is left in `c.var.push` (with the fingerprint of its signature, for the replay check) for
 * the handler that stores it; otherwise 401 with the expected signer and challenge in the body, as
 * iexec-sms.
 */
import type { Context, Env, Input, MiddlewareHandler } from 'hono';
import type { Address, Hex } from 'viem';
import { SealworkError } from '../errors.js';
import { chainSignature, recoverSigner, signatureFingerprint } from './signature.js';
import type { Logger } from './log.js';
import type { SecretId } from './store.js';

/** A secret push, described by its route. */
export interface SecretPush {
  id: SecretId;
  value: string;
  /** The challenge the Authorization header must sign. */
  challenge: Hex;
  /** Who must have signed it; undefined when the asset has no owner on chain. */
  signer: Address | undefined;
  /** Names and addresses for the log and the answer (never the value). */
  context: Record<string, unknown>;
}

/** A push whose signature checked out: `fingerprint` identifies that signature (sha256, never the value). */
export type SignedPush = SecretPush & { fingerprint: string };

export type PushEnv = { Variables: { push: SignedPush } };

/** Refuse unless the push is signed by its expected signer; then `c.var.push` is set. */
export function signedPush<E extends Env, P extends string, I extends Input>(
  logger: Logger,
  describe: (c: Context<E, P, I>) => Promise<SecretPush> | SecretPush,
): MiddlewareHandler<E & PushEnv, P, I> {
  return async (c, next) => {
    const push = await describe(c as unknown as Context<E, P, I>);
    const { challenge, signer: expected, context } = push;
    if (!expected)
      throw new SealworkError(
        'SIGNER_UNKNOWN',
        'No owner found on chain for this asset, so no signature can be accepted.',
        { details: { ...context, expectedSigner: null } },
      );
    const authorization = c.req.header('Authorization');
    // Only the form the chain accepts (low-S, v 27/28): one signature per signer and challenge, so a
    // replay cannot pass as a new signature (signature.ts).
    const sig = authorization ? chainSignature(authorization) : undefined;
    const signer = sig && recoverSigner(challenge, sig);
    if (!signer || signer.toLowerCase() !== expected.toLowerCase()) {
      logger.warn('secret push refused: bad signature', {
        ...context,
        expectedSigner: expected,
        signer: signer ?? null,
      });
      const details = {
        ...context,
        expectedSigner: expected,
        expectedChallenge: challenge,
        recoveredSigner: signer ?? null,
      };
      throw authorization
        ? new SealworkError(
            'SIGNATURE_INVALID',
            `The Authorization header is not the EIP-191 signature of the challenge by ${expected}.`,
            { details },
          )
        : new SealworkError(
            'AUTHORIZATION_MISSING',
            'The Authorization header (EIP-191 signature of the challenge) is missing.',
            { details },
          );
    }
    c.set('push', { ...push, fingerprint: signatureFingerprint(sig) });
    await next();
  };
}
