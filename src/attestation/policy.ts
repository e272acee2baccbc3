/**
 * Attestation policy: what an SMS accepts. Deny by default — a verdict is `allowed` only when
 * the quote verified and every claim the policy states holds. Defaults: allowDebug false,
 * allowSimulation false, acceptedTcbStatuses ["UpToDate"], acceptedAdvisories [] (any advisory
 * on the TCB refuses unless listed).
 */
import { z } from 'zod';
import { SealworkError } from '../errors.js';
import { ALL_TCB_STATUSES, type TcbStatus } from './collateral.js';
import type { SgxIdentity, TdxIdentity, VerificationResult } from './verify.js';

const hexN = (bytes: number, what: string) =>
  z
    .string()
    .transform((s) => s.trim().replace(/^0x/i, '').toLowerCase())
    .refine(
      (s) => /^[0-9a-f]*$/.test(s) && s.length === bytes * 2,
      `${what} must be ${bytes} bytes of hex (${bytes * 2} digits)`,
    );
const oneOrMany = <T extends z.ZodTypeAny>(t: T) =>
  z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);
const u16 = (what: string) => z.number().int(`${what} must be an integer`).min(0).max(65535);

export const policySchema = z
  .object({
    /** Restrict to one TEE type. */
    tee: z.enum(['sgx', 'tdx']).optional(),
    /** SGX: accepted MRENCLAVE values. */
    mrenclave: oneOrMany(hexN(32, 'mrenclave')).optional(),
    /** SGX: accepted MRSIGNER (with isvProdId, and optionally minIsvSvn). */
    mrsigner: oneOrMany(hexN(32, 'mrsigner')).optional(),
    isvProdId: u16('isvProdId').optional(),
    minIsvSvn: u16('minIsvSvn').optional(),
    /** TDX: accepted MRTD values, and optional exact RTMRs. */
    mrtd: oneOrMany(hexN(48, 'mrtd')).optional(),
    rtmr0: hexN(48, 'rtmr0').optional(),
    rtmr1: hexN(48, 'rtmr1').optional(),
    rtmr2: hexN(48, 'rtmr2').optional(),
    rtmr3: hexN(48, 'rtmr3').optional(),
    mrseam: oneOrMany(hexN(48, 'mrseam')).optional(),
    allowDebug: z.boolean().default(false),
    acceptedTcbStatuses: z
      .array(z.enum(ALL_TCB_STATUSES as unknown as [TcbStatus, ...TcbStatus[]]))
      .min(1)
      .default(['UpToDate']),
    acceptedAdvisories: z.array(z.string().min(1)).default([]),
    allowSimulation: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.mrenclave && !p.mrsigner && !p.mrtd)
      ctx.addIssue({
        code: 'custom',
        message: 'the policy names no enclave: give mrenclave, or mrsigner with isvProdId, or mrtd',
      });
    if (p.mrsigner && p.isvProdId === undefined)
      ctx.addIssue({ code: 'custom', path: ['isvProdId'], message: 'isvProdId is required with mrsigner' });
    if ((p.isvProdId !== undefined || p.minIsvSvn !== undefined) && !p.mrsigner && !p.mrenclave)
      ctx.addIssue({
        code: 'custom',
        path: ['mrsigner'],
        message: 'isvProdId/minIsvSvn need mrsigner or mrenclave',
      });
    if ((p.mrenclave || p.mrsigner) && p.mrtd)
      ctx.addIssue({
        code: 'custom',
        message: 'a policy is for SGX (mrenclave/mrsigner) or TDX (mrtd), not both',
      });
    if ((p.rtmr0 || p.rtmr1 || p.rtmr2 || p.rtmr3 || p.mrseam) && !p.mrtd)
      ctx.addIssue({ code: 'custom', path: ['mrtd'], message: 'RTMR/MRSEAM claims need mrtd' });
  });

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

/** Validate a policy (object or JSON text). Throws POLICY_INVALID with every problem listed. */
export function parsePolicy(json: unknown): Policy {
  let v = json;
  if (typeof json === 'string') {
    try {
      v = JSON.parse(json);
    } catch (e) {
      throw new SealworkError('POLICY_INVALID', 'The policy is not valid JSON.', {
        hint: 'Fix the JSON syntax.',
        cause: e,
      });
    }
  }
  const r = policySchema.safeParse(v);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    throw new SealworkError('POLICY_INVALID', `Invalid policy: ${problems.join('; ')}.`, {
      hint: 'See docs/attestation.md for the policy fields.',
      details: { problems },
    });
  }
  return r.data;
}

/** Policies already validated, with the JSON they were validated from (a changed object is re-read). */
const parsedPolicies = new WeakMap<object, { json: string; policy: Policy }>();
function cachedPolicy(input: Policy | PolicyInput): Policy {
  if (typeof input !== 'object' || input === null) return parsePolicy(input);
  const json = JSON.stringify(input);
  const hit = parsedPolicies.get(input);
  if (hit && hit.json === json) return hit.policy;
  const policy = parsePolicy(input);
  parsedPolicies.set(input, { json, policy });
  return policy;
}

export interface PolicyClaim {
  claim: string;
  ok: boolean;
  expected: unknown;
  found: unknown;
  reason: string;
}

export interface Verdict {
  allowed: boolean;
  simulated: boolean;
  claims: PolicyClaim[];
  /** The first claim that failed (present when refused). */
  failed?: PolicyClaim;
}

/** What the rules read: the verification result, the policy, and the identity by TEE. */
interface Subject {
  result: VerificationResult;
  policy: Policy;
  /** The identity when the quote is SGX (else undefined). */
  sgx?: SgxIdentity;
  /** The identity when the quote is TDX (else undefined). */
  tdx?: TdxIdentity;
}

/** One policy rule: its claim, or undefined when the policy does not state it. */
type Rule = (s: Subject) => PolicyClaim | undefined;

const claim = (
  name: string,
  ok: boolean,
  expected: unknown,
  found: unknown,
  okReason: string,
  badReason: string,
): PolicyClaim => ({ claim: name, ok, expected, found, reason: ok ? okReason : badReason });

const verified: Rule = ({ result }) => {
  const failedCheck = result.checks.find((c) => !c.ok);
  return claim(
    'verified',
    result.ok,
    true,
    result.ok,
    'the quote verified against its collateral',
    `the quote did not verify${failedCheck ? `: ${failedCheck.name}: ${failedCheck.detail}` : ''}`,
  );
};

const simulation: Rule = ({ result, policy }) =>
  claim(
    'simulation',
    !result.simulated || policy.allowSimulation,
    policy.allowSimulation ? 'simulated or real' : 'real hardware',
    result.simulated ? 'simulated' : 'real hardware',
    result.simulated ? 'simulated quote accepted (allowSimulation)' : 'anchored at the Intel root',
    'the quote comes from the simulated platform and the policy does not set allowSimulation',
  );

const tee: Rule = ({ result, policy }) => {
  const found = result.identity.tee;
  const want = policy.tee ?? (policy.mrtd ? 'tdx' : 'sgx');
  return claim(
    'tee',
    found === want,
    want,
    found,
    `TEE is ${found}`,
    `TEE is ${found}, the policy is for ${want}`,
  );
};

/** A measurement the policy lists accepted values for (found null: the quote is of the other TEE). */
const accepted =
  (
    key: 'mrenclave' | 'mrsigner' | 'mrtd' | 'mrseam',
    label: string,
    of: (s: Subject) => string | null,
  ): Rule =>
  (s) => {
    const list = s.policy[key];
    if (!list) return undefined;
    const f = of(s);
    return claim(
      key,
      f !== null && list.includes(f),
      list,
      f,
      `${label} is accepted`,
      `${label} is not in the accepted list`,
    );
  };

const isvProdId: Rule = ({ policy, sgx }) => {
  if (policy.isvProdId === undefined) return undefined;
  const f = sgx?.isvProdId ?? null;
  return claim(
    'isvProdId',
    f === policy.isvProdId,
    policy.isvProdId,
    f,
    'ISVPRODID matches',
    'ISVPRODID differs',
  );
};

const minIsvSvn: Rule = ({ policy, sgx }) => {
  if (policy.minIsvSvn === undefined) return undefined;
  const f = sgx?.isvSvn ?? null;
  return claim(
    'isvSvn',
    f !== null && f >= policy.minIsvSvn,
    `>= ${policy.minIsvSvn}`,
    f,
    'ISVSVN is high enough',
    'ISVSVN is below the minimum',
  );
};

/** An RTMR the policy states exactly. */
const rtmr =
  (r: 'rtmr0' | 'rtmr1' | 'rtmr2' | 'rtmr3'): Rule =>
  ({ policy, tdx }) => {
    const want = policy[r];
    if (want === undefined) return undefined;
    const f = tdx?.[r] ?? null;
    return claim(r, f === want, want, f, `${r.toUpperCase()} matches`, `${r.toUpperCase()} differs`);
  };

const debug: Rule = ({ result, policy }) =>
  claim(
    'debug',
    !result.identity.debug || policy.allowDebug,
    policy.allowDebug ? 'debug allowed' : 'not debug',
    result.identity.debug ? 'debug' : 'not debug',
    result.identity.debug ? 'debug enclave accepted (allowDebug)' : 'production (non-debug) enclave',
    'the enclave is in DEBUG mode (its memory is readable by the host) and the policy does not set allowDebug',
  );

const tcbStatus: Rule = ({ result, policy }) =>
  claim(
    'tcbStatus',
    result.tcbStatus !== null && policy.acceptedTcbStatuses.includes(result.tcbStatus),
    policy.acceptedTcbStatuses,
    result.tcbStatus,
    `TCB status ${result.tcbStatus} is accepted`,
    `TCB status ${result.tcbStatus ?? 'unknown'} is not accepted`,
  );

const advisories: Rule = ({ result, policy }) => {
  const unaccepted = result.advisoryIds.filter((a) => !policy.acceptedAdvisories.includes(a));
  return claim(
    'advisories',
    unaccepted.length === 0,
    policy.acceptedAdvisories,
    result.advisoryIds,
    result.advisoryIds.length ? 'every advisory is accepted' : 'no advisories',
    `advisories not accepted: ${unaccepted.join(', ')}`,
  );
};

/** The rules, in the order their claims are listed (the first failing one is `failed`). */
const RULES: readonly Rule[] = [
  verified,
  simulation,
  tee,
  accepted('mrenclave', 'MRENCLAVE', (s) => s.sgx?.mrenclave ?? null),
  accepted('mrsigner', 'MRSIGNER', (s) => s.sgx?.mrsigner ?? null),
  isvProdId,
  minIsvSvn,
  accepted('mrtd', 'MRTD', (s) => s.tdx?.mrtd ?? null),
  rtmr('rtmr0'),
  rtmr('rtmr1'),
  rtmr('rtmr2'),
  rtmr('rtmr3'),
  accepted('mrseam', 'MRSEAM', (s) => s.tdx?.mrseam ?? null),
  debug,
  tcbStatus,
  advisories,
];

/** Evaluate a verification result against a policy: every rule's claim, allowed only if all hold. */
export function evaluatePolicy(result: VerificationResult, policyInput: Policy | PolicyInput): Verdict {
  const policy = cachedPolicy(policyInput);
  const id = result.identity;
  const subject: Subject = {
    result,
    policy,
    sgx: id.tee === 'sgx' ? id : undefined,
    tdx: id.tee === 'tdx' ? id : undefined,
  };
  const claims: PolicyClaim[] = [];
  for (const rule of RULES) {
    const c = rule(subject);
    if (c) claims.push(c);
  }
  const failed = claims.find((c) => !c.ok);
  return {
    allowed: failed === undefined,
    simulated: result.simulated,
    claims,
    ...(failed ? { failed } : {}),
  };
}
