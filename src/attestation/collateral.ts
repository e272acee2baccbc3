/**
 * Verification collateral: TCB info, QE identity (each with its exact signed JSON text, its
 * signature and the issuer chain), the root CA CRL and the PCK CRL.
 *
 * parseCollateral accepts
 *  - the `*_collateral.json` shape (dcap-qvl QuoteCollateralV3: snake_case keys, hex CRLs and
 *    signatures, tcb_info / qe_identity as the exact signed JSON text), in snake_case or camelCase;
 *  - Intel PCS responses: `tcbInfo` / `qeIdentity` given as the PCS response body
 *    (`{"tcbInfo":{…},"signature":"…"}` / `{"enclaveIdentity":{…},"signature":"…"}`), with the
 *    issuer chains (PEM, from the `TCB-Info-Issuer-Chain` headers) and CRLs (DER bytes, hex,
 *    base64 or PEM).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SealworkError } from '../errors.js';

export interface Collateral {
  /** Exact JSON text of the TCB info body (the signed bytes). */
  tcbInfo: string;
  /** ECDSA P-256 signature over tcbInfo, raw r‖s (64 bytes). */
  tcbInfoSignature: Uint8Array;
  /** PEM chain: TCB signing certificate, then the root. */
  tcbInfoIssuerChain: string;
  /** Exact JSON text of the QE identity body (the signed bytes). */
  qeIdentity: string;
  qeIdentitySignature: Uint8Array;
  qeIdentityIssuerChain: string;
  /** DER of the root CA CRL. */
  rootCaCrl?: Uint8Array;
  /** DER of the PCK CRL (Processor or Platform CA). */
  pckCrl?: Uint8Array;
  /** PEM chain of the PCK CRL issuer (informational; the PCK chain is what is checked). */
  pckCrlIssuerChain?: string;
  /** PCK certificate chain, for quotes whose certification data is not a PEM chain (types 1–4). */
  pckCertChain?: string;
}

const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
  // Computed for TD report 1.5 quotes (Intel QVL TDRelaunchCheck), never found in TCB info:
  'TDRelaunchAdvised',
  'TDRelaunchAdvisedConfigurationNeeded',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];
export const ALL_TCB_STATUSES: readonly TcbStatus[] = TCB_STATUSES;

const hexStr = (len?: number) =>
  z
    .string()
    .regex(/^[0-9a-fA-F]*$/, 'must be hex')
    .refine((s) => len === undefined || s.length === len * 2, `must be ${len} bytes of hex`);
const date = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date');
// SVNs are bytes on real platforms; larger values (seen in Intel's synthetic samples) can never match.
const svnComp = z.object({ svn: z.number().int().min(0) }).passthrough();

const tcbLevelSchema = z
  .object({
    tcb: z.union([
      z
        .object({
          sgxtcbcomponents: z.array(svnComp).length(16),
          pcesvn: z.number().int().min(0).max(65535),
          tdxtcbcomponents: z.array(svnComp).length(16).optional(),
        })
        .passthrough(),
      // TCB info v2: sgxtcbcomp01svn … sgxtcbcomp16svn
      z.record(z.string(), z.number().int().min(0).max(65535)),
    ]),
    tcbDate: date.optional(),
    tcbStatus: z.string(),
    advisoryIDs: z.array(z.string()).optional(),
  })
  .passthrough();

const moduleSchema = z
  .object({ mrsigner: hexStr(48), attributes: hexStr(8), attributesMask: hexStr(8) })
  .passthrough();

const tcbInfoSchema = z
  .object({
    id: z.enum(['SGX', 'TDX']).optional(),
    version: z.number().int(),
    issueDate: date,
    nextUpdate: date,
    fmspc: hexStr(6),
    pceId: hexStr(2),
    tcbType: z.number().int().optional(),
    tcbEvaluationDataNumber: z.number().int().optional(),
    tdxModule: moduleSchema.optional(),
    tdxModuleIdentities: z
      .array(
        moduleSchema.extend({
          id: z.string(),
          tcbLevels: z.array(
            z
              .object({
                tcb: z.object({ isvsvn: z.number().int().min(0) }).passthrough(),
                tcbStatus: z.string(),
                advisoryIDs: z.array(z.string()).optional(),
              })
              .passthrough(),
          ),
        }),
      )
      .optional(),
    tcbLevels: z.array(tcbLevelSchema).min(1),
  })
  .passthrough();

const qeIdentitySchema = z
  .object({
    id: z.string(),
    version: z.number().int(),
    issueDate: date,
    nextUpdate: date,
    tcbEvaluationDataNumber: z.number().int().optional(),
    miscselect: hexStr(4),
    miscselectMask: hexStr(4),
    attributes: hexStr(16),
    attributesMask: hexStr(16),
    mrsigner: hexStr(32),
    isvprodid: z.number().int(),
    tcbLevels: z
      .array(
        z
          .object({
            tcb: z.object({ isvsvn: z.number().int().min(0) }).passthrough(),
            tcbDate: date.optional(),
            tcbStatus: z.string(),
            advisoryIDs: z.array(z.string()).optional(),
          })
          .passthrough(),
      )
      .min(1),
  })
  .passthrough();

export interface TcbLevel {
  comps: number[];
  pceSvn: number;
  tdxComps?: number[];
  status: string;
  advisoryIds: string[];
  tcbDate?: string;
}

export interface TdxModuleIdentity {
  id: string;
  mrsigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  levels: { isvsvn: number; status: string; advisoryIds: string[] }[];
}

export interface TcbInfo {
  id: 'SGX' | 'TDX';
  version: number;
  issueDate: number;
  nextUpdate: number;
  fmspc: string;
  pceId: string;
  tcbEvaluationDataNumber?: number;
  levels: TcbLevel[];
  tdxModule?: { mrsigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array };
  tdxModuleIdentities?: TdxModuleIdentity[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: number;
  nextUpdate: number;
  miscselect: number;
  miscselectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrsigner: Uint8Array;
  isvprodid: number;
  levels: { isvsvn: number; status: string; advisoryIds: string[] }[];
}

function collateralError(msg: string, cause?: unknown): SealworkError {
  return new SealworkError('COLLATERAL_INVALID', `Invalid collateral: ${msg}.`, {
    hint: 'Give Intel PCS responses or a *_collateral.json file (tcb_info, qe_identity, issuer chains, CRLs).',
    cause,
  });
}

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

const hx = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/** Lexicographic comparison of SVN vectors (like std::vector's operator<). */
function lexCompare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function parseTcbInfo(text: string): TcbInfo {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw collateralError('TCB info is not JSON', e);
  }
  const r = tcbInfoSchema.safeParse(json);
  if (!r.success) throw collateralError(`TCB info: ${zodMessage(r.error)}`);
  const t = r.data;
  const levels: TcbLevel[] = t.tcbLevels.map((l) => {
    const tcb = l.tcb as Record<string, unknown>;
    let comps: number[];
    let pceSvn: number;
    let tdxComps: number[] | undefined;
    if (Array.isArray(tcb.sgxtcbcomponents)) {
      comps = (tcb.sgxtcbcomponents as { svn: number }[]).map((c) => c.svn);
      pceSvn = tcb.pcesvn as number;
      if (Array.isArray(tcb.tdxtcbcomponents))
        tdxComps = (tcb.tdxtcbcomponents as { svn: number }[]).map((c) => c.svn);
    } else {
      comps = [];
      for (let i = 1; i <= 16; i++) {
        const v = tcb[`sgxtcbcomp${String(i).padStart(2, '0')}svn`];
        if (typeof v !== 'number') throw collateralError(`TCB info v2 level lacks sgxtcbcomp${i}svn`);
        comps.push(v);
      }
      if (typeof tcb.pcesvn !== 'number') throw collateralError('TCB info level lacks pcesvn');
      pceSvn = tcb.pcesvn;
    }
    return {
      comps,
      pceSvn,
      tdxComps,
      status: l.tcbStatus,
      advisoryIds: l.advisoryIDs ?? [],
      tcbDate: l.tcbDate,
    };
  });
  // Intel's QVL keeps TCB levels in a set ordered highest first (TcbLevel::operator>): by the
  // 16 SGX component SVNs (lexicographic), then PCESVN, then (TDX v3) the TDX components. Sort the
  // same way (stably), so the result does not depend on the order the JSON lists them in.
  const isTdx = (t.id ?? 'SGX') === 'TDX' && t.version >= 3;
  levels.sort((a, b) => {
    const c = lexCompare(b.comps, a.comps);
    if (c !== 0) return c;
    if (isTdx && a.pceSvn === b.pceSvn) return lexCompare(b.tdxComps ?? [], a.tdxComps ?? []);
    return b.pceSvn - a.pceSvn;
  });
  const mod = (m: z.infer<typeof moduleSchema>) => ({
    mrsigner: hx(m.mrsigner),
    attributes: hx(m.attributes),
    attributesMask: hx(m.attributesMask),
  });
  return {
    id: t.id ?? 'SGX',
    version: t.version,
    issueDate: Date.parse(t.issueDate),
    nextUpdate: Date.parse(t.nextUpdate),
    fmspc: t.fmspc.toLowerCase(),
    pceId: t.pceId.toLowerCase(),
    tcbEvaluationDataNumber: t.tcbEvaluationDataNumber,
    levels,
    tdxModule: t.tdxModule ? mod(t.tdxModule) : undefined,
    tdxModuleIdentities: t.tdxModuleIdentities?.map((m) => ({
      id: m.id,
      ...mod(m),
      levels: m.tcbLevels.map((l) => ({
        isvsvn: l.tcb.isvsvn,
        status: l.tcbStatus,
        advisoryIds: l.advisoryIDs ?? [],
      })),
    })),
  };
}

export function parseQeIdentity(text: string): QeIdentity {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw collateralError('QE identity is not JSON', e);
  }
  const r = qeIdentitySchema.safeParse(json);
  if (!r.success) throw collateralError(`QE identity: ${zodMessage(r.error)}`);
  const q = r.data;
  return {
    id: q.id,
    version: q.version,
    issueDate: Date.parse(q.issueDate),
    nextUpdate: Date.parse(q.nextUpdate),
    miscselect: Buffer.from(q.miscselect, 'hex').readUInt32LE(0),
    miscselectMask: Buffer.from(q.miscselectMask, 'hex').readUInt32LE(0),
    attributes: hx(q.attributes),
    attributesMask: hx(q.attributesMask),
    mrsigner: hx(q.mrsigner),
    isvprodid: q.isvprodid,
    levels: q.tcbLevels.map((l) => ({
      isvsvn: l.tcb.isvsvn,
      status: l.tcbStatus,
      advisoryIds: l.advisoryIDs ?? [],
    })),
  };
}

// ---------- input normalisation ----------

/**
 * Return the exact source text of the value of top-level key `key` in JSON text `text`
 * (a PCS response body), so the signature can be checked over the bytes Intel signed.
 */
export function rawJsonMember(text: string, key: string): string | undefined {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && /\s/.test(text[i]!)) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      while (i < n) {
        const d = text[i]!;
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n && !/[,}\]\s]/.test(text[i]!)) i++;
  };
  ws();
  if (text[i] !== '{') return undefined;
  i++;
  while (i < n) {
    ws();
    if (text[i] === '}') return undefined;
    if (text[i] !== '"') return undefined;
    const ks = i;
    skipString();
    let k: unknown;
    try {
      k = JSON.parse(text.slice(ks, i));
    } catch {
      return undefined; // not JSON: the caller reports it
    }
    ws();
    if (text[i] !== ':') return undefined;
    i++;
    ws();
    const vs = i;
    skipValue();
    if (k === key) return text.slice(vs, i);
    ws();
    if (text[i] === ',') i++;
  }
  return undefined;
}

function bytesFrom(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Uint8Array.from(v);
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^-----BEGIN/.test(s)) {
      const b64 = s.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, '');
      return new Uint8Array(Buffer.from(b64, 'base64'));
    }
    const h = s.replace(/^0x/i, '');
    if (/^[0-9a-fA-F]*$/.test(h) && h.length % 2 === 0) return new Uint8Array(Buffer.from(h, 'hex'));
    if (/^[A-Za-z0-9+/=\s]+$/.test(s)) return new Uint8Array(Buffer.from(s, 'base64'));
  }
  throw collateralError(`${what} must be bytes, hex, base64 or PEM`);
}

function pemText(v: unknown, what: string): string {
  if (typeof v === 'string') {
    let s = v;
    if (s.includes('%2D') || s.includes('%0A'))
      try {
        s = decodeURIComponent(s); // PCS headers are URL-encoded
      } catch (e) {
        throw collateralError(`${what} has a bad URL encoding`, e);
      }
    if (!s.includes('-----BEGIN CERTIFICATE-----')) throw collateralError(`${what} holds no PEM certificate`);
    return s;
  }
  if (v instanceof Uint8Array) return pemText(Buffer.from(v).toString('utf8'), what);
  throw collateralError(`${what} must be PEM text`);
}

/** Accept a signed body given as exact text, a PCS response (text or object), or an object. */
function signedBody(
  v: unknown,
  bodyKey: string,
  sig: unknown,
  what: string,
): { text: string; signature: Uint8Array } {
  let text: string;
  let signature: unknown = sig;
  if (typeof v === 'string') {
    const inner = rawJsonMember(v, bodyKey);
    if (inner !== undefined) {
      text = inner;
      if (signature === undefined) {
        try {
          signature = (JSON.parse(v) as Record<string, unknown>).signature;
        } catch (e) {
          throw collateralError(`${what} is not JSON`, e);
        }
      }
    } else text = v;
  } else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    if (o[bodyKey] && typeof o[bodyKey] === 'object') {
      // Re-serialising is exact for Intel's compact JSON; prefer passing the response text.
      text = JSON.stringify(o[bodyKey]);
      signature ??= o.signature;
    } else text = JSON.stringify(o);
  } else if (v instanceof Uint8Array) {
    return signedBody(Buffer.from(v).toString('utf8'), bodyKey, sig, what);
  } else throw collateralError(`${what} is missing`);
  if (signature === undefined) throw collateralError(`${what} signature is missing`);
  const s = bytesFrom(signature, `${what} signature`);
  if (s.length !== 64) throw collateralError(`${what} signature must be 64 bytes (r‖s)`);
  return { text, signature: s };
}

function pick(o: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

/** Normalise collateral JSON (text or object) into a Collateral. */
export function parseCollateral(input: unknown): Collateral {
  let o: Record<string, unknown>;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      o = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch (e) {
      throw collateralError('not JSON', e);
    }
  } else if (input && typeof input === 'object') o = input as Record<string, unknown>;
  else throw collateralError('expected a JSON object');
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw collateralError('expected a JSON object');

  const tcb = signedBody(
    pick(o, 'tcb_info', 'tcbInfo', 'tcbInfoResponse'),
    'tcbInfo',
    pick(o, 'tcb_info_signature', 'tcbInfoSignature'),
    'tcb_info',
  );
  const qe = signedBody(
    pick(o, 'qe_identity', 'qeIdentity', 'enclaveIdentity', 'qeIdentityResponse'),
    'enclaveIdentity',
    pick(o, 'qe_identity_signature', 'qeIdentitySignature'),
    'qe_identity',
  );
  const tcbChain = pemText(pick(o, 'tcb_info_issuer_chain', 'tcbInfoIssuerChain'), 'tcb_info_issuer_chain');
  const qeChain = pemText(
    pick(
      o,
      'qe_identity_issuer_chain',
      'qeIdentityIssuerChain',
      'tcb_info_issuer_chain',
      'tcbInfoIssuerChain',
    ),
    'qe_identity_issuer_chain',
  );
  const c: Collateral = {
    tcbInfo: tcb.text,
    tcbInfoSignature: tcb.signature,
    tcbInfoIssuerChain: tcbChain,
    qeIdentity: qe.text,
    qeIdentitySignature: qe.signature,
    qeIdentityIssuerChain: qeChain,
  };
  const rootCrl = pick(o, 'root_ca_crl', 'rootCaCrl');
  if (rootCrl !== undefined) c.rootCaCrl = bytesFrom(rootCrl, 'root_ca_crl');
  const pckCrl = pick(o, 'pck_crl', 'pckCrl');
  if (pckCrl !== undefined) c.pckCrl = bytesFrom(pckCrl, 'pck_crl');
  const pckCrlChain = pick(o, 'pck_crl_issuer_chain', 'pckCrlIssuerChain');
  if (pckCrlChain !== undefined) c.pckCrlIssuerChain = pemText(pckCrlChain, 'pck_crl_issuer_chain');
  const pckChain = pick(o, 'pck_certificate_chain', 'pckCertChain', 'pckCertificateChain');
  if (pckChain !== undefined) c.pckCertChain = pemText(pckChain, 'pck_certificate_chain');
  // Validate the bodies now, so a bad file fails here with a clear message.
  parseTcbInfo(c.tcbInfo);
  parseQeIdentity(c.qeIdentity);
  return c;
}

/** The `*_collateral.json` shape (hex CRLs and signatures), e.g. to write next to a quote. */
export function collateralToJson(c: Collateral): Record<string, string> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    ...(c.pckCrlIssuerChain ? { pck_crl_issuer_chain: c.pckCrlIssuerChain } : {}),
    ...(c.rootCaCrl ? { root_ca_crl: hex(c.rootCaCrl) } : {}),
    ...(c.pckCrl ? { pck_crl: hex(c.pckCrl) } : {}),
    tcb_info_issuer_chain: c.tcbInfoIssuerChain,
    tcb_info: c.tcbInfo,
    tcb_info_signature: hex(c.tcbInfoSignature),
    qe_identity_issuer_chain: c.qeIdentityIssuerChain,
    qe_identity: c.qeIdentity,
    qe_identity_signature: hex(c.qeIdentitySignature),
    ...(c.pckCertChain ? { pck_certificate_chain: c.pckCertChain } : {}),
  };
}

/**
 * Every signed or trusted part of a collateral, in a fixed order: what the cache key hashes and
 * what a cached preparation is compared against. One list, so a new field cannot be left out of
 * either.
 */
export function collateralParts(c: Collateral): (string | Uint8Array | undefined)[] {
  return [
    c.tcbInfo,
    c.tcbInfoSignature,
    c.tcbInfoIssuerChain,
    c.qeIdentity,
    c.qeIdentitySignature,
    c.qeIdentityIssuerChain,
    c.rootCaCrl,
    c.pckCrl,
    c.pckCertChain,
  ];
}

/** Stable content hash of a collateral (cache key). */
export function collateralKey(c: Collateral): string {
  const h = createHash('sha256');
  for (const part of collateralParts(c)) {
    const b = typeof part === 'string' ? Buffer.from(part) : (part ?? Buffer.alloc(0));
    h.update(`${b.length}:`).update(b);
  }
  return h.digest('hex');
}
