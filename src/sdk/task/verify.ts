/**
 * `sealwork task verify <task>`: the whole trust chain of a TEE task, link by link — the deal on
 * chain, the app's fingerprint, the dataset order's restriction to that app, the SMS's release
 * receipt (its signature, its task, the enclave it released to and that enclave's challenge), the
 * enclave's signature of the result, the stored result's digest, and the SMS's own attestation
 * (last). Each link reports pass or fail with the values it compared; the report holds only when
 * every link does. A simulated platform is reported as such in every verdict.
 */
import { promises as fs } from 'node:fs';
import type { Hex } from 'viem';
import {
  readApp,
  readDeal,
  readDealOrders,
  readTask,
  readTaskContribution,
  type ChainClients,
} from '../../chain/index.js';
import { SealworkError, fsError, isSealworkError } from '../../errors.js';
import { parseReceipt, taskStatusName, type ReleaseReceipt } from '../../protocol/index.js';
import { createSmsClient, resolveSmsEndpoint } from '../../sms-client/index.js';
import { resolveHome } from '../../util/home.js';
import { fetchBytes } from '../../worker/fetch.js';
import { localStorageCa } from '../../worker/storage/client.js';
import { connect, type ChainParameters } from '../chain/common.js';
import { checkStoredResult, parseTaskResults } from '../worker/requester.js';
import { checkContentAddress } from '../worker/result-verify.js';
import {
  VERIFY_LINKS,
  appFingerprintLink,
  datasetRestrictionLink,
  dealLink,
  enclaveChallengeLink,
  enclaveIdentityLink,
  enclaveSignatureLink,
  pinnedCertificateLink,
  receiptSignatureLink,
  receiptTaskLink,
  resultDigestLink,
  type ChainFacts,
  type VerifyLink,
  type VerifyLinkName,
} from './verify-links.js';

export { VERIFY_LINKS, type VerifyLink, type VerifyLinkName } from './verify-links.js';

export interface VerifyTaskParameters extends ChainParameters {
  taskId: string;
  /** The SMS (else SEALWORK_SMS_URL, else the local one): where the receipt is read when the result location has none. */
  smsUrl?: string;
  /** PEM file of the SMS certificate: the pinned SMS (else SEALWORK_SMS_CA, else the local SMS's). */
  smsCa?: string;
  /** Read the receipt from this file instead. */
  receiptFile?: string;
  /** Where to read the receipt: beside the result (default, then the SMS), or the SMS only. */
  receiptFrom?: 'result' | 'sms';
  /** The beneficiary private key (PEM file): an encrypted result's digest is checked with it. */
  keyFile?: string;
  /** PEM file of the result storage's certificate (default: the local storage's). */
  caFile?: string;
  /** Accepted TCB statuses of the app's enclave (default UpToDate). */
  acceptedTcb?: string[];
  /** Accept a simulated platform (the local stack's). */
  allowSimulation?: boolean;
}

export interface VerifyTaskReport {
  taskId: Hex;
  /** Every link holds. */
  ok: boolean;
  /** The enclave or the SMS ran on a simulated platform: no confidentiality against the host. */
  simulated: boolean;
  /** Where the release receipt came from (null: none was found). */
  receiptSource: string | null;
  links: VerifyLink[];
}

const TITLES: Record<VerifyLinkName, string> = {
  deal: "the deal's app, dataset and workerpool on chain",
  'app-fingerprint': "the app's fingerprint on chain",
  'dataset-restriction': "the dataset order's restriction to that app",
  'receipt-signature': "the release receipt's SMS signature",
  'receipt-task': 'the receipt is for this task',
  'enclave-identity': "the enclave's MRENCLAVE = the app's fingerprint, and its TCB status",
  'enclave-challenge': "the receipt's enclave challenge = the one on chain for the task",
  'enclave-signature': 'the enclave signature over resultHash/resultSeal',
  'result-digest': "the stored result's digest = the on-chain digest",
  'sms-attestation': "the SMS's attestation against the pinned SMS policy",
};

/** Everything the chain says of the task (one read each), and the task's `results` bytes. */
async function chainFacts(c: ChainClients, taskId: Hex): Promise<ChainFacts & { results?: Hex }> {
  const hub = c.deployment.hub;
  const fromBlock = BigInt(c.deployment.blockNumber ?? 0);
  const t = await readTask(c.publicClient, hub, taskId);
  const status = taskStatusName(t.status);
  const domain = { chainId: c.deployment.chainId, hub };
  if (status === 'UNSET')
    return {
      taskId,
      status,
      dealId: null,
      index: null,
      resultDigest: null,
      consensusValue: null,
      deal: null,
      app: null,
      orders: undefined,
      contribution: undefined,
      domain,
    };
  const deal = await readDeal(c.publicClient, hub, t.dealid);
  const app = await readApp(c.publicClient, deal.app.pointer).catch(() => undefined);
  const orders = await readDealOrders(c.publicClient, hub, t.dealid, { fromBlock }).catch((e: unknown) => {
    if (isSealworkError(e, 'DEAL_ORDERS_UNREADABLE')) return undefined;
    throw e;
  });
  const contribution =
    status === 'COMPLETED'
      ? await readTaskContribution(c.publicClient, hub, taskId, { fromBlock }).catch((e: unknown) => {
          if (isSealworkError(e, 'TASK_CONTRIBUTION_UNREADABLE')) return undefined;
          throw e;
        })
      : undefined;
  return {
    results: t.results,
    taskId,
    status,
    dealId: t.dealid,
    index: Number(t.idx),
    resultDigest: status === 'COMPLETED' ? t.resultDigest : null,
    consensusValue: status === 'COMPLETED' ? t.consensusValue : null,
    deal: {
      app: deal.app.pointer,
      dataset: deal.dataset.pointer,
      workerpool: deal.workerpool.pointer,
      requester: deal.requester,
    },
    app: app ? { mrenclave: app.mrenclave } : null,
    orders,
    contribution,
    domain,
  };
}

type ReceiptFound = { receipt?: ReleaseReceipt; source: string | null; why: string };

/** The receipt published beside the result (its own content-addressed object). */
async function receiptBesideResult(
  url: string,
  home: string,
  caFile: string | undefined,
): Promise<ReceiptFound> {
  const ca = caFile ? [await fs.readFile(caFile, 'utf8')] : await localStorageCa(home);
  const data = await fetchBytes(url, { ca, fileRoot: false, maxBytes: 1024 * 1024 });
  checkContentAddress(url, data);
  const parsed = parseReceipt(data.toString('utf8'));
  return parsed.ok
    ? { receipt: parsed.receipt, source: url, why: '' }
    : { source: url, why: `the receipt at ${url} is malformed (${parsed.reason})` };
}

/** The release receipt: from a file, beside the result, or from the SMS (signed by the caller's wallet). */
async function findReceipt(
  p: VerifyTaskParameters,
  c: ChainClients,
  home: string,
  resultsHex: Hex | undefined,
): Promise<ReceiptFound> {
  if (p.receiptFile) {
    const text = await fs.readFile(p.receiptFile, 'utf8').catch((e: unknown) => {
      throw fsError(e, p.receiptFile!, 'read the receipt');
    });
    const parsed = parseReceipt(text);
    return parsed.ok
      ? { receipt: parsed.receipt, source: p.receiptFile, why: '' }
      : { source: p.receiptFile, why: `${p.receiptFile} is not a receipt (${parsed.reason})` };
  }
  const published = resultsHex ? parseTaskResults(resultsHex)?.receipt : undefined;
  if (published && p.receiptFrom !== 'sms') {
    try {
      return await receiptBesideResult(published, home, p.caFile);
    } catch (e) {
      if (!isSealworkError(e)) throw e;
      return { source: published, why: `the receipt at ${published} cannot be read: ${e.message}` };
    }
  }
  if (!c.account)
    return {
      source: null,
      why: 'none was published with the result, and reading it from the SMS needs the requester or dataset owner wallet',
    };
  const sms = await resolveSmsEndpoint({
    home,
    ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}),
    ...(p.smsCa ? { smsCa: p.smsCa } : {}),
  });
  try {
    const client = createSmsClient(sms.url, sms.ca ? { ca: sms.ca } : {});
    const receipt = await client.getReceipt(c.account, p.taskId as Hex);
    return { receipt, source: `${sms.url}/receipts/${p.taskId}`, why: '' };
  } catch (e) {
    if (!isSealworkError(e)) throw e;
    return { source: null, why: `the SMS gave none: [${e.code}] ${e.message}` };
  }
}

/** The certificate the client pins for the SMS (`--sms-ca`, SEALWORK_SMS_CA, or the local SMS's). */
async function pinnedSmsCertificate(p: VerifyTaskParameters, home: string): Promise<string | undefined> {
  try {
    const sms = await resolveSmsEndpoint({
      home,
      ...(p.smsUrl ? { smsUrl: p.smsUrl } : {}),
      ...(p.smsCa ? { smsCa: p.smsCa } : {}),
    });
    return sms.ca;
  } catch (e) {
    if (isSealworkError(e, 'SMS_NOT_CONFIGURED')) return undefined;
    throw e;
  }
}

/** Verify a task's trust chain; the report says which links hold (it does not throw for one that does not). */
export async function verifyTask(p: VerifyTaskParameters): Promise<VerifyTaskReport> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(p.taskId))
    throw new SealworkError('TASK_ID_INVALID', `${p.taskId} is not a task id (0x + 64 hex characters).`);
  const taskId = p.taskId.toLowerCase() as Hex;
  const home = resolveHome(p.home);
  const c = await connect({ ...p, home });
  const facts = await chainFacts(c, taskId);
  const task =
    facts.status === 'UNSET' ? undefined : await readTask(c.publicClient, c.deployment.hub, taskId);
  const found = await findReceipt({ ...p, taskId }, c, home, task?.results);
  const r = found.receipt;
  const why = found.why;
  const location = task ? parseTaskResults(task.results)?.location : undefined;
  const resultCheck =
    facts.status === 'COMPLETED' && location && facts.resultDigest
      ? await checkStoredResult({
          home,
          ...(p.chainUrl ? { chainUrl: p.chainUrl } : {}),
          taskId,
          location,
          resultDigest: facts.resultDigest,
          ...(p.keyFile ? { keyFile: p.keyFile } : {}),
          ...(p.caFile ? { caFile: p.caFile } : {}),
        })
      : null;
  const fp = appFingerprintLink(facts);
  const simulated = Boolean(r?.body.enclave.simulated || r?.body.sms.evidence?.simulated);
  const verdicts: Record<VerifyLinkName, Omit<VerifyLink, 'name' | 'title' | 'simulated'>> = {
    deal: dealLink(facts, r),
    'app-fingerprint': { ok: fp.ok, detail: fp.detail, ...(fp.actual ? { actual: fp.actual } : {}) },
    'dataset-restriction': datasetRestrictionLink(facts),
    'receipt-signature': receiptSignatureLink(r, why),
    'receipt-task': receiptTaskLink(facts, r, why),
    'enclave-identity': enclaveIdentityLink(fp.fingerprint, r, why, {
      acceptedTcb: p.acceptedTcb ?? ['UpToDate'],
      allowSimulation: Boolean(p.allowSimulation),
    }),
    'enclave-challenge': enclaveChallengeLink(facts, r, why),
    'enclave-signature': await enclaveSignatureLink(facts),
    'result-digest': resultDigestLink(facts, resultCheck, `the task is ${facts.status}: no stored result`),
    'sms-attestation': pinnedCertificateLink(r, why, await pinnedSmsCertificate(p, home)),
  };
  const links = VERIFY_LINKS.map((name) => ({ name, title: TITLES[name], simulated, ...verdicts[name] }));
  return { taskId, ok: links.every((l) => l.ok), simulated, receiptSource: found.source, links };
}

/** The failure of a report that does not hold (the report in its details, for --json). */
export function verifyRefusal(report: VerifyTaskReport): SealworkError | undefined {
  if (report.ok) return undefined;
  const failed = report.links.filter((l) => !l.ok).map((l) => l.name);
  return new SealworkError(
    'TASK_NOT_VERIFIED',
    `Task ${report.taskId} does not verify: ${failed.join(', ')} ${failed.length === 1 ? 'fails' : 'fail'}.`,
    { hint: 'See each link above (--json for the values compared).', details: { report } },
  );
}
