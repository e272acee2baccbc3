/**
 * The error catalogue: every stable code of sealwork, declared once in the table of its domain.
 * `SealworkError` takes an `ErrorCode`, so an undeclared code fails `tsc`; docs/error-codes.md is
 * generated from this declaration (`npm run error-codes`), and each error's `docsPath` points at its
 * entry there.
 */
import { ATTESTATION_CODES } from './attestation.js';
import { CHAIN_CODES } from './chain.js';
import { CLI_CODES } from './cli.js';
import { CORE_CODES } from './core.js';
import { CRYPTO_CODES } from './crypto.js';
import type { ErrorCodeSpec } from './define.js';
import { ENCLAVE_CODES } from './enclave.js';
import { SDK_CODES } from './sdk.js';
import { SMS_CODES } from './sms.js';
import { WORKER_CODES } from './worker.js';

export type { ErrorCodeSpec, ErrorDomain } from './define.js';

/** Every domain table, in the order of the generated document. A code is in exactly one. */
export const CODE_TABLES = [
  CORE_CODES,
  ATTESTATION_CODES,
  CHAIN_CODES,
  CLI_CODES,
  CRYPTO_CODES,
  ENCLAVE_CODES,
  SDK_CODES,
  SMS_CODES,
  WORKER_CODES,
] as const;

export const ERROR_CODES = {
  ...CORE_CODES,
  ...ATTESTATION_CODES,
  ...CHAIN_CODES,
  ...CLI_CODES,
  ...CRYPTO_CODES,
  ...ENCLAVE_CODES,
  ...SDK_CODES,
  ...SMS_CODES,
  ...WORKER_CODES,
} as const;

/**
 * Families of codes with a run-time part: `SMS_HTTP_<status>`, what the SMS client reports for an
 * HTTP error status without a code of its own. Keyed by prefix; `name` is how the docs show it.
 */
export const CODE_FAMILIES = {
  SMS_HTTP_: {
    name: 'SMS_HTTP_<status>',
    domain: 'sms',
    meaning: 'The SMS answered an HTTP error status that carries no code of its own.',
  },
} as const satisfies Record<string, ErrorCodeSpec & { name: string }>;

/** A declared code. */
export type DeclaredErrorCode = keyof typeof ERROR_CODES;
/** Every code a `SealworkError` can carry. */
export type ErrorCode = DeclaredErrorCode | `SMS_HTTP_${number}`;

const FAMILY_RE = /^SMS_HTTP_\d+$/;

/** Is `x` a code of the catalogue? (For codes read at run time, e.g. from an HTTP error body.) */
export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && (Object.hasOwn(ERROR_CODES, x) || FAMILY_RE.test(x));
}

/** The catalogue entry of a code (a family's entry for `SMS_HTTP_<status>`). */
export function errorCodeSpec(code: ErrorCode): ErrorCodeSpec {
  return Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as DeclaredErrorCode] : CODE_FAMILIES.SMS_HTTP_;
}

/** The anchor of a code in docs/error-codes.md: the code in lower case (`sms_http` for the family). */
export function docsAnchor(code: ErrorCode): string {
  return Object.hasOwn(ERROR_CODES, code) ? code.toLowerCase() : 'sms_http';
}

/** The generated catalogue, relative to the repository root. */
export const ERROR_CODES_DOC = 'docs/error-codes.md';

/** Where a code is documented: `docs/error-codes.md#<code in lower case>`. */
export function docsPathOf(code: ErrorCode): string {
  return `${ERROR_CODES_DOC}#${docsAnchor(code)}`;
}
