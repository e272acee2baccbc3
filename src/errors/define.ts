/**
 * The shape of the error catalogue: every stable code is declared once, in the table of its domain
 * (one file per domain in this folder), with a one-line meaning and, for the codes the SMS or the
 * storage answer over HTTP, the status they answer with.
 */

/** The domain of a code: the folder of `src/` it belongs to (`core`: shared file-system codes). */
export type ErrorDomain =
  'core' | 'attestation' | 'chain' | 'cli' | 'crypto' | 'enclave' | 'sdk' | 'sms' | 'worker';

export interface ErrorCodeSpec {
  readonly domain: ErrorDomain;
  /** What the code means, in one line (the error's own message says the particulars). */
  readonly meaning: string;
  /** The HTTP status(es) the SMS or the storage answer with, where the code is an HTTP answer. */
  readonly status?: number | readonly number[];
}

/** A meaning, or `[meaning, HTTP status]`. */
type Entry = string | readonly [meaning: string, status: number | readonly number[]];

/** Declare the codes of one domain: `{ CODE: 'meaning' | ['meaning', status] }`. */
export function defineCodes<const T extends Record<string, Entry>>(
  domain: ErrorDomain,
  table: T,
): { readonly [K in keyof T]: ErrorCodeSpec } {
  const out: Record<string, ErrorCodeSpec> = {};
  for (const [code, e] of Object.entries(table))
    out[code] = typeof e === 'string' ? { domain, meaning: e } : { domain, meaning: e[0], status: e[1] };
  return out as { readonly [K in keyof T]: ErrorCodeSpec };
}
