/**
 * TCB level matching and status convergence, following Intel's QVL (TcbLevelCheck,
 * TdxModuleCheck): the first TCB level (in the order Intel publishes: highest first) whose SGX
 * component SVNs and PCESVN are all ≤ the PCK certificate's; for TDX also the TEE_TCB_SVN
 * components (from index 2 when the TDX module version byte is non-zero), then the TDX module
 * identity, then the QE identity status.
 */
import type { PckExtension } from './certs.js';
import type { QeIdentity, TcbInfo, TcbStatus } from './collateral.js';
import { ALL_TCB_STATUSES } from './collateral.js';
import type { EnclaveReport, Quote, TdReport } from './quote.js';

export interface TcbEvaluation {
  ok: boolean;
  status?: TcbStatus;
  advisoryIds: string[];
  detail: string;
  /** Intermediate statuses, for the checks list. */
  platformStatus?: string;
  tdxModuleStatus?: string;
  qeStatus?: string;
}

const bad = (detail: string, advisoryIds: string[] = []): TcbEvaluation => ({
  ok: false,
  advisoryIds,
  detail,
});

function known(s: string): s is TcbStatus {
  return (ALL_TCB_STATUSES as readonly string[]).includes(s);
}

export function matchQeLevel(
  isvSvn: number,
  qe: QeIdentity,
): { status: string; advisoryIds: string[] } | undefined {
  // Levels are ordered by decreasing ISVSVN; take the first one at or below the report's.
  const sorted = [...qe.levels].sort((a, b) => b.isvsvn - a.isvsvn);
  const l = sorted.find((x) => isvSvn >= x.isvsvn);
  return l ? { status: l.status, advisoryIds: l.advisoryIds } : undefined;
}

/** QE identity check (QVL 4.1.2.4.15): mrsigner, isvprodid, masked miscselect/attributes. */
export function checkQeIdentity(report: EnclaveReport, qe: QeIdentity): string | undefined {
  if (!Buffer.from(report.mrSigner).equals(Buffer.from(qe.mrsigner)))
    return `QE MRSIGNER ${Buffer.from(report.mrSigner).toString('hex')} is not ${Buffer.from(qe.mrsigner).toString('hex')}`;
  if (report.isvProdId !== qe.isvprodid) return `QE ISVPRODID ${report.isvProdId} is not ${qe.isvprodid}`;
  if ((report.miscSelect & qe.miscselectMask) >>> 0 !== (qe.miscselect & qe.miscselectMask) >>> 0)
    return 'QE MISCSELECT does not match (masked)';
  for (let i = 0; i < 16; i++)
    if ((report.attributes[i]! & qe.attributesMask[i]!) !== (qe.attributes[i]! & qe.attributesMask[i]!))
      return 'QE ATTRIBUTES do not match (masked)';
  return undefined;
}

function convergeOutOfDate(level: string, other: string): string {
  if (other === 'OutOfDate') {
    if (level === 'UpToDate' || level === 'SWHardeningNeeded') return 'OutOfDate';
    if (level === 'ConfigurationNeeded' || level === 'ConfigurationAndSWHardeningNeeded')
      return 'OutOfDateConfigurationNeeded';
  }
  if (other === 'Revoked') return 'Revoked';
  return level;
}

function union(a: string[], b: string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

/** TDX module identity check (QVL 4.1.2.4.11): MRSIGNERSEAM and SEAMATTRIBUTES. */
export function checkTdxModule(quote: Quote, tcb: TcbInfo): string | undefined {
  const body = quote.body as TdReport;
  const version = body.teeTcbSvn[1]!;
  let mod = tcb.tdxModule;
  if (quote.header.version > 3 && version > 0) {
    const id = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
    const found = tcb.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
    if (!found) return `no TDX module identity ${id} in the TCB info`;
    mod = found;
  }
  if (!mod) return 'the TCB info has no tdxModule';
  if (!Buffer.from(body.mrSignerSeam).equals(Buffer.from(mod.mrsigner)))
    return 'MRSIGNERSEAM does not match the TDX module identity';
  for (let i = 0; i < 8; i++)
    if (body.seamAttributes[i] !== 0 || body.seamAttributes[i] !== mod.attributes[i])
      return 'SEAMATTRIBUTES are not zero or do not match the TDX module identity';
  return undefined;
}

const CONFIG_NEEDED = new Set([
  'ConfigurationNeeded',
  'OutOfDateConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'TDRelaunchAdvisedConfigurationNeeded',
]);

/**
 * Intel QVL TDRelaunchCheck: when the platform is fine but the TDX module the TD runs on is out
 * of date, and TEE_TCB_SVN2 (the module after an in-place update) reaches the latest level,
 * the status is TDRelaunchAdvised[ConfigurationNeeded] instead of OutOfDate.
 */
function relaunch(
  body: TdReport,
  tcb: TcbInfo,
  sgxStatus: string,
  tdxStatus: string,
  moduleStatus: string,
  qeStatus: string,
): { status: string } | { error: string } {
  const keep = { status: tdxStatus };
  if (qeStatus === 'OutOfDate' || qeStatus === 'Revoked') return keep;
  if (
    !['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded'].includes(
      sgxStatus,
    )
  )
    return keep;
  if (tdxStatus !== 'OutOfDate' && tdxStatus !== 'OutOfDateConfigurationNeeded') return keep;
  if (moduleStatus !== 'OutOfDate') return keep;
  const svn2 = body.teeTcbSvn2!;
  const latest = tcb.levels[0];
  if (!latest?.tdxComps)
    return { error: 'no TDX TCB level to compare TEE_TCB_SVN2 with (TCB not supported)' };
  let reaches: boolean;
  if (svn2[1] === 0) reaches = svn2[0]! >= latest.tdxComps[0]! && svn2[2]! >= latest.tdxComps[2]!;
  else {
    const id = `TDX_${svn2[1]!.toString(16).padStart(2, '0').toUpperCase()}`;
    const ident = tcb.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
    if (!ident) return { error: `no TDX module identity ${id} for TEE_TCB_SVN2 in the TCB info` };
    const top = ident.levels[0];
    if (!top) return { error: `TDX module identity ${id} has no TCB level (TCB not supported)` };
    reaches = svn2[0]! >= top.isvsvn && svn2[2]! >= latest.tdxComps[2]!;
  }
  if (!reaches) return keep;
  return {
    status:
      CONFIG_NEEDED.has(sgxStatus) || CONFIG_NEEDED.has(tdxStatus)
        ? 'TDRelaunchAdvisedConfigurationNeeded'
        : 'TDRelaunchAdvised',
  };
}

export function evaluateTcb(quote: Quote, pck: PckExtension, tcb: TcbInfo, qe: QeIdentity): TcbEvaluation {
  const isTdx = tcb.version >= 3 && tcb.id === 'TDX' && quote.tee === 'tdx';
  const teeTcbSvn = isTdx ? (quote.body as TdReport).teeTcbSvn : undefined;

  let sgxLevel: (typeof tcb.levels)[number] | undefined;
  let tdxLevel: (typeof tcb.levels)[number] | undefined;
  for (const level of tcb.levels) {
    const sgxOk = level.comps.every((c, i) => pck.compSvn[i]! >= c) && pck.pceSvn >= level.pceSvn;
    if (!sgxOk) continue;
    if (!teeTcbSvn) {
      sgxLevel = level;
      break;
    }
    sgxLevel ??= level;
    if (!level.tdxComps) continue;
    const from = teeTcbSvn[1]! > 0 ? 2 : 0;
    let tdxOk = true;
    for (let i = from; i < 16; i++) if (teeTcbSvn[i]! < level.tdxComps[i]!) tdxOk = false;
    if (tdxOk) {
      tdxLevel = level;
      break;
    }
  }
  if (!sgxLevel) return bad('no TCB level matches the PCK certificate TCB (TCB not supported)');

  // QE identity TCB status
  const qeLevel = matchQeLevel(quote.qeReport.isvSvn, qe);
  if (!qeLevel) return bad(`QE ISVSVN ${quote.qeReport.isvSvn} is below every QE identity TCB level`);
  const qeStatus = qeLevel.status;

  let levelStatus: string;
  let advisories: string[];
  let moduleStatus: string | undefined;
  if (!isTdx) {
    levelStatus = sgxLevel.status;
    advisories = sgxLevel.advisoryIds;
  } else {
    if (!tdxLevel) return bad('no TCB level matches the TD report TEE_TCB_SVN (TCB not supported)');
    advisories = tdxLevel.advisoryIds;
    // TDX module TCB status (QVL TdxModuleCheck)
    const version = teeTcbSvn![1]!;
    const isvSvn = teeTcbSvn![0]!;
    if (quote.header.version > 3 && version === 0) moduleStatus = 'UpToDate';
    else {
      const id = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
      const ident = tcb.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
      if (!ident) return bad(`no TDX module identity ${id} in the TCB info`);
      const ml = ident.levels.find((l) => isvSvn >= l.isvsvn);
      if (!ml) return bad(`TDX module ISVSVN ${isvSvn} is below every ${id} TCB level (TCB not supported)`);
      moduleStatus = ml.status;
      advisories = union(advisories, ml.advisoryIds);
    }
    levelStatus = convergeOutOfDate(tdxLevel.status, moduleStatus);
    // TD report 1.5: a TD whose module was updated in place may only need a relaunch.
    if (levelStatus !== 'Revoked' && quote.bodyType === 3) {
      const r = relaunch(quote.body as TdReport, tcb, sgxLevel.status, levelStatus, moduleStatus, qeStatus);
      if ('error' in r) return bad(r.error, advisories);
      levelStatus = r.status;
    }
  }
  const platformStatus = levelStatus;
  advisories = union(advisories, qeLevel.advisoryIds);
  const final = convergeOutOfDate(levelStatus, qeStatus);
  if (!known(final)) return bad(`unrecognised TCB status "${final}"`, advisories);
  const ev: TcbEvaluation = {
    ok: final !== 'Revoked',
    status: final,
    advisoryIds: advisories,
    detail: `${final}${advisories.length ? ` [${advisories.join(', ')}]` : ''} (platform ${platformStatus}, QE ${qeStatus}${moduleStatus ? `, TDX module ${moduleStatus}` : ''})`,
    platformStatus,
    qeStatus,
    tdxModuleStatus: moduleStatus,
  };
  return ev;
}
