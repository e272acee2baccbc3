/**
 * The links of a task's trust chain, one function each, checked by `verifyTask` (verify.ts) on
 * what it read from the chain, the release receipt and the stored result. Each returns a verdict
 * with the values it compared; none throws for a link that does not hold.
 */
import { isAddressEqual, recoverMessageAddress, zeroAddress, type Address, type Hex } from 'viem';
import { hashOrder, type DealOrders, type TaskContribution } from '../../chain/index.js';
import {
  enclaveMessage,
  parseAppMrEnclave,
  receiptKeyMatchesCertificate,
  resultHash,
  verifyReceiptSignature,
  type AppFingerprint,
  type ReleaseReceipt,
} from '../../protocol/index.js';
import type { ResultCheck } from '../worker/requester.js';

/** The links, in the order the report prints them (the SMS's attestation last). */
export const VERIFY_LINKS = [
  'deal',
  'app-fingerprint',
  'dataset-restriction',
  'receipt-signature',
  'receipt-task',
  'enclave-identity',
  'enclave-challenge',
  'enclave-signature',
  'result-digest',
  'sms-attestation',
] as const;
export type VerifyLinkName = (typeof VERIFY_LINKS)[number];

export interface VerifyLink {
  name: VerifyLinkName;
  /** What the link checks, in words. */
  title: string;
  ok: boolean;
  /** The platform behind this verdict is simulated (no confidentiality against the host). */
  simulated: boolean;
  expected?: string;
  actual?: string;
  detail: string;
}

type Verdict = Omit<VerifyLink, 'name' | 'title' | 'simulated'>;

/** What the chain says of the task, read once by verify.ts. */
export interface ChainFacts {
  taskId: Hex;
  status: string;
  dealId: Hex | null;
  index: number | null;
  resultDigest: Hex | null;
  /** `consensusValue`: the resultHash the hub recorded. */
  consensusValue: Hex | null;
  deal: {
    app: Address;
    dataset: Address;
    workerpool: Address;
    requester: Address;
  } | null;
  app: { mrenclave: string } | null;
  orders: DealOrders | undefined;
  contribution: TaskContribution | undefined;
  domain: { chainId: number; hub: Address };
}

const same = (a: string | null | undefined, b: string | null | undefined) =>
  Boolean(a && b && a.toLowerCase() === b.toLowerCase());
const noReceipt = (why: string): Verdict => ({ ok: false, detail: `no release receipt: ${why}` });

export function dealLink(c: ChainFacts, r: ReleaseReceipt | undefined): Verdict {
  if (!c.deal || !c.dealId)
    return { ok: false, actual: `task ${c.status}`, detail: 'the task has no deal on chain' };
  const dataset = isAddressEqual(c.deal.dataset, zeroAddress) ? null : c.deal.dataset;
  const actual = `app ${c.deal.app}, dataset ${dataset ?? 'none'}, workerpool ${c.deal.workerpool}`;
  if (c.status !== 'COMPLETED')
    return { ok: false, actual, detail: `the task is ${c.status}, not COMPLETED` };
  if (!r) return { ok: true, actual, detail: `deal ${c.dealId} on chain (no receipt to compare with)` };
  const expected = `app ${r.body.task.app}, dataset ${r.body.task.dataset ?? 'none'}`;
  const ok =
    same(r.body.task.app, c.deal.app) &&
    (r.body.task.dataset === null ? dataset === null : same(r.body.task.dataset, dataset));
  return {
    ok,
    expected,
    actual,
    detail: ok
      ? `deal ${c.dealId}: the SMS released for this deal's app and dataset`
      : "the receipt names another app or dataset than the deal's",
  };
}

export function appFingerprintLink(c: ChainFacts): Verdict & { fingerprint?: AppFingerprint } {
  if (!c.app) return { ok: false, detail: 'the app is not on chain' };
  const fp = parseAppMrEnclave(c.app.mrenclave);
  if (!fp)
    return { ok: false, actual: c.app.mrenclave.slice(0, 80), detail: 'the app has no SCONE fingerprint' };
  return {
    ok: true,
    actual: `MrEnclave ${fp.mrenclave}`,
    detail: 'the app is deployed with a fingerprint MrEnclave|FSPF_KEY|FSPF_TAG',
    fingerprint: fp,
  };
}

export function datasetRestrictionLink(c: ChainFacts): Verdict {
  if (!c.deal) return { ok: false, detail: 'no deal' };
  if (isAddressEqual(c.deal.dataset, zeroAddress)) return { ok: true, detail: 'the deal uses no dataset' };
  if (!c.orders) return { ok: false, detail: "the deal's matchOrders transaction was not found" };
  const order = c.orders.dataset;
  const hash = hashOrder('dataset', order, c.domain);
  if (!same(hash, c.orders.hashes.dataset))
    return {
      ok: false,
      expected: c.orders.hashes.dataset,
      actual: hash,
      detail: 'the dataset order in the matchOrders call is not the one the hub recorded',
    };
  const ok = isAddressEqual(order.apprestrict, c.deal.app);
  return {
    ok,
    expected: c.deal.app,
    actual: order.apprestrict,
    detail: ok
      ? `dataset order ${hash.slice(0, 18)}… restricts the dataset to this app`
      : isAddressEqual(order.apprestrict, zeroAddress)
        ? 'the dataset order is open to any app'
        : 'the dataset order restricts the dataset to another app',
  };
}

export function receiptSignatureLink(r: ReleaseReceipt | undefined, why: string): Verdict {
  if (!r) return noReceipt(why);
  const s = verifyReceiptSignature(r);
  return { ok: s.ok, actual: s.keyId ?? undefined, detail: s.reason };
}

export function receiptTaskLink(c: ChainFacts, r: ReleaseReceipt | undefined, why: string): Verdict {
  if (!r) return noReceipt(why);
  const t = r.body.task;
  const ok = same(t.id, c.taskId) && same(t.dealId, c.dealId) && t.index === c.index;
  return {
    ok,
    expected: `task ${c.taskId} (deal ${c.dealId} #${c.index})`,
    actual: `task ${t.id} (deal ${t.dealId} #${t.index})`,
    detail: ok ? 'the receipt is for this task' : 'the receipt is for another task',
  };
}

export function enclaveIdentityLink(
  fp: AppFingerprint | undefined,
  r: ReleaseReceipt | undefined,
  why: string,
  o: { acceptedTcb: string[]; allowSimulation: boolean },
): Verdict {
  if (!r) return noReceipt(why);
  const e = r.body.enclave;
  const actual = `MRENCLAVE ${e.mrenclave}, TCB ${e.tcbStatus}${e.simulated ? ', simulated' : ''}`;
  const expected = `MRENCLAVE ${fp?.mrenclave ?? '(no fingerprint)'}, TCB ${o.acceptedTcb.join('|')}`;
  if (!fp || !same(fp.mrenclave, e.mrenclave))
    return { ok: false, expected, actual, detail: "the enclave that got the secrets is not the app's" };
  if (!o.acceptedTcb.includes(e.tcbStatus))
    return { ok: false, expected, actual, detail: `TCB status ${e.tcbStatus} is not accepted` };
  if (e.simulated && !o.allowSimulation)
    return {
      ok: false,
      expected,
      actual,
      detail: 'the enclave ran on a simulated platform (pass --allow-simulation)',
    };
  return { ok: true, expected, actual, detail: "the secrets went to the app's enclave" };
}

export function enclaveChallengeLink(c: ChainFacts, r: ReleaseReceipt | undefined, why: string): Verdict {
  if (!r) return noReceipt(why);
  if (!c.contribution) return { ok: false, detail: 'the task was not finalized on chain' };
  const ok = same(r.body.enclaveChallenge, c.contribution.enclaveChallenge);
  return {
    ok,
    expected: c.contribution.enclaveChallenge,
    actual: r.body.enclaveChallenge,
    detail: ok
      ? `the enclave challenge the SMS released to is the one the task was finalized with (tx ${c.contribution.txHash.slice(0, 18)}…)`
      : 'the receipt names another enclave challenge than the one on chain',
  };
}

export async function enclaveSignatureLink(c: ChainFacts): Promise<Verdict> {
  const k = c.contribution;
  if (!k || !c.resultDigest) return { ok: false, detail: 'the task was not finalized on chain' };
  const hash = resultHash(c.taskId, k.resultDigest);
  if (!same(k.resultDigest, c.resultDigest) || !same(hash, c.consensusValue))
    return {
      ok: false,
      expected: `resultHash ${c.consensusValue}`,
      actual: `resultHash ${hash}`,
      detail: 'the contribution does not match the result the hub recorded',
    };
  let signer: Address | undefined;
  try {
    signer = await recoverMessageAddress({
      message: { raw: enclaveMessage(k.worker, c.taskId, k.resultDigest) },
      signature: k.enclaveSign,
    });
  } catch {
    signer = undefined;
  }
  const ok = same(signer, k.enclaveChallenge);
  return {
    ok,
    expected: k.enclaveChallenge,
    actual: signer ?? '(no signer)',
    detail: ok
      ? `the enclave challenge key signed resultHash/resultSeal of digest ${k.resultDigest.slice(0, 18)}… for worker ${k.worker}`
      : 'the enclave signature is not by the enclave challenge',
  };
}

export function resultDigestLink(c: ChainFacts, check: ResultCheck | null, why: string): Verdict {
  if (!check) return { ok: false, expected: c.resultDigest ?? undefined, detail: why };
  return {
    ok: check.status === 'match',
    expected: c.resultDigest ?? undefined,
    actual:
      check.status === 'match'
        ? (c.resultDigest ?? undefined)
        : `${check.status}${check.code ? ` [${check.code}]` : ''}`,
    detail: check.message,
  };
}

/** The SMS evidence, before the attested SMS: its certificate holds the receipt key and is the one pinned. */
export function pinnedCertificateLink(
  r: ReleaseReceipt | undefined,
  why: string,
  pinned: string | undefined,
): Verdict {
  if (!r) return noReceipt(why);
  const cert = r.body.sms.evidence?.certificate;
  if (!cert) return { ok: false, detail: 'the receipt carries no SMS certificate' };
  if (!receiptKeyMatchesCertificate(r, cert))
    return { ok: false, detail: "the receipt's signing key is not its SMS certificate's key" };
  if (!pinned) return { ok: false, detail: 'no SMS certificate is pinned (pass --sms-ca)' };
  const ok = receiptKeyMatchesCertificate(r, pinned);
  return {
    ok,
    expected: 'the pinned SMS certificate',
    actual: ok ? 'the pinned SMS certificate' : 'another certificate',
    detail: ok
      ? 'the receipt is signed by the pinned SMS key (the SMS served no attestation: trusted by its pinned certificate only)'
      : 'the receipt is signed by another SMS than the pinned one',
  };
}
