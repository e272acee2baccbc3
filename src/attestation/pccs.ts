/**
 * Optional: fetch a quote's collateral from a PCCS / Intel PCS (API v4), cached on disk until
 * the earliest nextUpdate among its parts. Verification never needs the network otherwise.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseCert, parseCrl, parsePckExtension } from './certs.js';
import {
  collateralToJson,
  parseCollateral,
  parseQeIdentity,
  parseTcbInfo,
  type Collateral,
} from './collateral.js';
import { parseQuote } from './quote.js';

export interface FetchPccsCollateralParameters {
  quote: Uint8Array;
  /** Base URL, e.g. https://pccs.example:8081 or https://api.trustedservices.intel.com. */
  pccsUrl: string;
  /** Cache folder (omit to disable caching). */
  cacheDir?: string;
  /** Injected fetch (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
}

function pccsError(msg: string, url: string, cause?: unknown): SealworkError {
  return new SealworkError('PCCS_ERROR', `PCCS request failed: ${msg}.`, {
    hint: 'Check --pccs-url and that the PCCS is reachable, or pass --collateral <file>.',
    details: { url },
    cause,
  });
}

function earliestExpiry(c: Collateral): number {
  const t = parseTcbInfo(c.tcbInfo).nextUpdate;
  const q = parseQeIdentity(c.qeIdentity).nextUpdate;
  const r = c.rootCaCrl ? parseCrl(c.rootCaCrl).nextUpdate : 0;
  const p = c.pckCrl ? parseCrl(c.pckCrl).nextUpdate : 0;
  return Math.min(t, q, r, p);
}

export async function fetchPccsCollateral(p: FetchPccsCollateralParameters): Promise<Collateral> {
  const quote = parseQuote(p.quote);
  const chain = quote.certification.pemChain ?? [];
  if (quote.certification.type !== 5 || chain.length === 0)
    throw new SealworkError(
      'PCCS_UNSUPPORTED_QUOTE',
      'Cannot fetch collateral: the quote carries no PCK certificate chain.',
      {
        hint: 'Pass --collateral with the PCK certificate chain (pck_certificate_chain).',
      },
    );
  const leaf = parseCert(chain[0]!);
  const fmspc = Buffer.from(parsePckExtension(leaf.der).fmspc).toString('hex').toUpperCase();
  const ca = /Processor/i.test(leaf.issuer) ? 'processor' : 'platform';
  const tee = quote.tee;
  const base = p.pccsUrl.replace(/\/+$/, '').replace(/\/(sgx|tdx)\/certification\/v4$/, '');
  const key = createHash('sha256').update(`${base}|${tee}|${fmspc}|${ca}`).digest('hex');
  const cachePath = p.cacheDir ? join(p.cacheDir, `${key}.json`) : undefined;
  if (cachePath) {
    try {
      const cached = parseCollateral(await fs.readFile(cachePath, 'utf8'));
      if (earliestExpiry(cached) > Date.now()) return cached;
    } catch {
      /* missing or stale: refetch */
    }
  }
  const doFetch = p.fetch ?? globalThis.fetch;
  const get = async (path: string, tee_: string) => {
    const url = `${base}/${tee_}/certification/v4/${path}`;
    let res: Response;
    try {
      res = await doFetch(url, { signal: AbortSignal.timeout(20_000) });
    } catch (e) {
      throw pccsError(`cannot reach ${url}`, url, e);
    }
    if (!res.ok) throw pccsError(`${url} answered HTTP ${res.status}`, url);
    return { res, url };
  };
  const header = (res: Response, url: string, ...names: string[]) => {
    for (const n of names) {
      const v = res.headers.get(n);
      if (v)
        try {
          return decodeURIComponent(v);
        } catch (e) {
          throw pccsError(`malformed ${n} header (bad URL encoding)`, url, e);
        }
    }
    throw pccsError(`missing ${names[0]} header`, url);
  };
  const tcb = await get(`tcb?fmspc=${fmspc}`, tee);
  const tcbChain = header(tcb.res, tcb.url, 'TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain');
  const tcbText = await tcb.res.text();
  const qe = await get('qe/identity', tee);
  const qeChain = header(
    qe.res,
    qe.url,
    'SGX-Enclave-Identity-Issuer-Chain',
    'Enclave-Identity-Issuer-Chain',
  );
  const qeText = await qe.res.text();
  const crl = await get(`pckcrl?ca=${ca}&encoding=der`, 'sgx');
  const pckCrlChain = header(crl.res, crl.url, 'SGX-PCK-CRL-Issuer-Chain');
  const pckCrl = new Uint8Array(await crl.res.arrayBuffer());
  const root = await get('rootcacrl', 'sgx');
  let rootCrl: Uint8Array = new Uint8Array(await root.res.arrayBuffer());
  const asText = Buffer.from(rootCrl).toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(asText)) rootCrl = new Uint8Array(Buffer.from(asText, 'hex')); // PCCS answers hex
  const collateral = parseCollateral({
    tcbInfo: tcbText,
    tcbInfoIssuerChain: tcbChain,
    qeIdentity: qeText,
    qeIdentityIssuerChain: qeChain,
    pckCrl,
    pckCrlIssuerChain: pckCrlChain,
    rootCaCrl: rootCrl,
  });
  if (cachePath) {
    await fs.mkdir(p.cacheDir!, { recursive: true });
    await writeFileAtomic(cachePath, JSON.stringify(collateralToJson(collateral)), { force: true }).catch(
      () => undefined,
    );
  }
  return collateral;
}
