/**
 * SDK of the attestation domain: verify quote files against collateral and a policy, and make
 * simulated quotes. Thin typed wrappers over src/attestation; the CLI calls only these.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { SealworkError, fsError } from '../../errors.js';
import {
  collateralToJson,
  evaluatePolicy,
  openSimPlatform,
  parseCollateral,
  parsePolicy,
  quoteBytesFrom,
  verifyQuote,
  type Collateral,
  type Policy,
  type PolicyInput,
  type SimQuoteParameters,
  type TrustedRoot,
  type VerificationResult,
  type Verdict,
} from '../../attestation/index.js';
import { fetchPccsCollateral } from '../../attestation/pccs.js';
import { parseQuote } from '../../attestation/quote.js';
import { X509Certificate } from 'node:crypto';
import { assertWritableTarget, writeFileAtomic } from '../../util/atomic.js';
import { resolveHome } from '../../util/home.js';

/** Does the quote's PCK chain end at a sealwork simulation root? (used for hints only) */
function isSimulatedChain(quote: Uint8Array): boolean {
  try {
    const chain = parseQuote(quote).certification.pemChain ?? [];
    const last = chain[chain.length - 1];
    return last !== undefined && new X509Certificate(last).issuer.includes('sealwork Simulation SGX Root CA');
  } catch {
    return false;
  }
}

export * from '../../attestation/index.js';

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    throw fsError(e, path, `read the ${what}`);
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** Where the collateral of a quote file is looked for when none is given. */
export function collateralCandidates(quotePath: string): string[] {
  const noExt = quotePath.replace(/\.(bin|dat|hex|quote)$/i, '');
  return [
    `${quotePath}.collateral.json`,
    `${quotePath}_collateral.json`,
    `${noExt}.collateral.json`,
    `${noExt}_collateral.json`,
  ];
}

export interface VerifyQuoteFileParameters {
  /** Quote file (binary or hex text), or the bytes. */
  quote: string | Uint8Array;
  /** Collateral file or object; default: `<quote>.collateral.json` / `<quote>_collateral.json`, else --pccs-url. */
  collateral?: string | Collateral | Record<string, unknown>;
  /** Verification time (ISO 8601 or Date; default now). */
  at?: string | Date;
  /** Policy file or object. */
  policy?: string | PolicyInput;
  /** Trust the local simulated platform's root ($SEALWORK_HOME/sim-platform), if it exists. */
  allowSimulation?: boolean;
  /** Fetch missing collateral from this PCCS (e.g. https://localhost:8081), cached under $SEALWORK_HOME/cache/pccs. */
  pccsUrl?: string;
  home?: string;
}

export interface VerifyQuoteFileReturnType {
  result: VerificationResult;
  verdict?: Verdict;
  /** Where the collateral came from (a path, a PCCS URL, or "object"). */
  collateralSource: string;
  /** The quote's PCK chain names the sealwork simulation root (trusted or not). */
  simQuote: boolean;
}

function parseAt(at: string | Date | undefined): Date | undefined {
  if (at === undefined) return undefined;
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime()))
    throw new SealworkError('INVALID_TIME', `Invalid verification time "${String(at)}".`, {
      hint: 'Give an ISO 8601 date, e.g. 2025-06-20T00:00:00Z.',
    });
  return d;
}

/** Verify a quote (file or bytes) against its collateral, and optionally a policy. */
export async function verifyQuoteFile(p: VerifyQuoteFileParameters): Promise<VerifyQuoteFileReturnType> {
  const home = resolveHome(p.home);
  const quotePath = typeof p.quote === 'string' ? resolve(p.quote) : undefined;
  const quote = quoteBytesFrom(
    quotePath ? new Uint8Array(await readInput(quotePath, 'quote')) : (p.quote as Uint8Array),
  );
  const at = parseAt(p.at);

  let policy: Policy | undefined;
  if (p.policy !== undefined) {
    if (typeof p.policy === 'string') {
      const path = resolve(p.policy);
      policy = parsePolicy((await readInput(path, 'policy')).toString('utf8'));
    } else policy = parsePolicy(p.policy);
  }

  let collateral: Collateral;
  let collateralSource: string;
  if (typeof p.collateral === 'string') {
    collateralSource = resolve(p.collateral);
    collateral = parseCollateral((await readInput(collateralSource, 'collateral')).toString('utf8'));
  } else if (p.collateral) {
    collateralSource = 'object';
    collateral = parseCollateral(p.collateral);
  } else {
    let found: string | undefined;
    if (quotePath)
      for (const c of collateralCandidates(quotePath))
        if (await exists(c)) {
          found = c;
          break;
        }
    if (found) {
      collateralSource = found;
      collateral = parseCollateral((await readInput(found, 'collateral')).toString('utf8'));
    } else if (p.pccsUrl) {
      collateralSource = p.pccsUrl;
      collateral = await fetchPccsCollateral({
        quote,
        pccsUrl: p.pccsUrl,
        cacheDir: join(home, 'cache', 'pccs'),
      });
    } else
      throw new SealworkError('COLLATERAL_MISSING', 'No collateral for this quote.', {
        hint: `Pass --collateral <file> (Intel PCS responses or *_collateral.json), put it at ${quotePath ? collateralCandidates(quotePath)[0] : '<quote>.collateral.json'}, or give --pccs-url.`,
      });
  }

  const trustedRoots: TrustedRoot[] = [];
  if (p.allowSimulation || policy?.allowSimulation) {
    if (await exists(join(home, 'sim-platform', 'collateral.json')))
      trustedRoots.push((await openSimPlatform(home)).trustedRoot);
  }
  const result = await verifyQuote({ quote, collateral, at, trustedRoots });
  const verdict = policy ? evaluatePolicy(result, policy) : undefined;
  const simQuote = isSimulatedChain(quote);
  return { result, ...(verdict ? { verdict } : {}), collateralSource, simQuote };
}

export interface SimQuoteFileParameters extends SimQuoteParameters {
  /** Where to write the quote (binary). The collateral goes to `<out>.collateral.json`. */
  out: string;
  force?: boolean;
  home?: string;
}

export interface SimQuoteFileReturnType {
  quote: string;
  collateral: string;
  size: number;
  /** The simulation root certificate file (to inspect; trusted only explicitly). */
  root: string;
}

/** Make a simulated SGX v3 quote and write it and its collateral. */
export async function simQuote(p: SimQuoteFileParameters): Promise<SimQuoteFileReturnType> {
  const out = resolve(p.out);
  const colPath = `${out}.collateral.json`;
  await assertWritableTarget(out, p.force ?? false);
  await assertWritableTarget(colPath, p.force ?? false);
  const sim = await openSimPlatform(resolveHome(p.home));
  const { quote, collateral } = await sim.quote(p);
  await writeFileAtomic(out, quote, { force: p.force });
  await writeFileAtomic(colPath, `${JSON.stringify(collateralToJson(collateral), null, 1)}\n`, {
    force: p.force,
  });
  return { quote: out, collateral: colPath, size: quote.length, root: join(sim.dir, 'root.pem') };
}

/**
 * Why `verifyQuoteFile`'s outcome is not an acceptance, as the error `sealwork attest verify`
 * exits with: QUOTE_NOT_VERIFIED (exit 3) when a check failed, POLICY_REFUSED (exit 4) when the
 * policy refuses the quote; undefined when the quote verified and the policy (if any) allows it.
 * `details` is attached to the error (the CLI gives the report with --json).
 */
export function quoteRefusal(
  r: VerifyQuoteFileReturnType,
  details?: Record<string, unknown>,
): SealworkError | undefined {
  if (r.result.ok && (!r.verdict || r.verdict.allowed)) return undefined;
  const failedCheck = r.result.checks.find((c) => !c.ok);
  if (!r.result.ok)
    return new SealworkError(
      'QUOTE_NOT_VERIFIED',
      `The quote did not verify: ${failedCheck ? `${failedCheck.name}: ${failedCheck.detail}` : 'unknown'}.`,
      {
        hint:
          r.simQuote && !r.result.root
            ? 'This is a simulated quote: pass --allow-simulation (or allowSimulation in the policy) to trust the local simulation root.'
            : 'See the checks above (--json for all fields).',
        details,
        exitCode: 3,
      },
    );
  return new SealworkError(
    'POLICY_REFUSED',
    `The policy refuses the quote: ${r.verdict!.failed!.claim}: ${r.verdict!.failed!.reason}.`,
    {
      hint: 'See the claims above (--json for all fields).',
      details,
      exitCode: 4,
    },
  );
}
