/**
 * Intel DCAP quote parser: SGX quotes v3/v4, TDX quotes v4/v5 (body types 2 and 3).
 *
 * Layout (all integers little-endian):
 *   header (48: version u16, attestation key type u16, TEE type u32, QE SVN u16, PCE SVN u16,
 *   QE vendor id 16, user data 20) ‖ [v5: body type u16 ‖ body size u32] ‖ body ‖ signature data length u32 ‖ signature data
 * Signature data (ECDSA P-256):
 *   quote signature (64, r‖s) ‖ attestation key (64, x‖y) ‖
 *   v3:    QE report (384) ‖ QE report signature (64) ‖ QE auth data (u16 len) ‖ certification data
 *   v4/v5: certification data of type 6 whose body is the v3 tail above
 * Certification data: type u16 ‖ size u32 ‖ data (type 5 = PEM chain, PCK leaf first).
 *
 * Every read is bounds-checked; malformed input raises a SealworkError (QUOTE_MALFORMED,
 * QUOTE_TRUNCATED or QUOTE_UNSUPPORTED), never an exception from a raw buffer access.
 */
import { SealworkError } from '../errors.js';
import { children, readTlv } from './der.js';

export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const HEADER_LEN = 48;
const ENCLAVE_REPORT_LEN = 384;
const TD10_REPORT_LEN = 584;
const TD15_REPORT_LEN = 648;
/** Upper bound on a quote's signature data (real ones are ~4–8 KiB). */
const MAX_SIG_DATA = 1 << 20;

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** An SGX enclave report (384 bytes): the ISV enclave body, and the QE report. */
export interface EnclaveReport {
  kind: 'sgx';
  cpuSvn: Uint8Array;
  miscSelect: number;
  isvExtProdId: Uint8Array;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  configId: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn: number;
  isvFamilyId: Uint8Array;
  reportData: Uint8Array;
  /** DEBUG bit: ATTRIBUTES.FLAGS bit 1. */
  debug: boolean;
  raw: Uint8Array;
}

/** A TDX TD report (TDREPORT 1.0: 584 bytes; 1.5 adds TEE_TCB_SVN2 and MRSERVICETD). */
export interface TdReport {
  kind: 'td10' | 'td15';
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
  /** DEBUG: TD_ATTRIBUTES.TUD bit 0 (the TD is debuggable). */
  debug: boolean;
  raw: Uint8Array;
}

export interface CertificationData {
  type: number;
  data: Uint8Array;
  /** For type 5: the certificates (PEM text, leaf first). */
  pemChain?: string[];
}

export interface Quote {
  header: QuoteHeader;
  tee: 'sgx' | 'tdx';
  /** 1 = SGX enclave report, 2 = TD report 1.0, 3 = TD report 1.5. */
  bodyType: 1 | 2 | 3;
  body: EnclaveReport | TdReport;
  /** The bytes covered by the quote signature (header, [v5 body descriptor], body). */
  signedData: Uint8Array;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: EnclaveReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certification: CertificationData;
  /** Length of the quote proper; bytes after it (padding) are not part of the quote. */
  length: number;
  /** How many bytes followed the quote in the input (ignored; usually zero padding). */
  trailingBytes: number;
  /** The quote bytes (without padding). */
  raw: Uint8Array;
}

function malformed(msg: string, details?: Record<string, unknown>): SealworkError {
  return new SealworkError('QUOTE_MALFORMED', `Malformed quote: ${msg}.`, {
    hint: 'Check that the file is a raw DCAP quote (binary or hex).',
    details,
  });
}

class Reader {
  offset = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {}
  take(n: number, field: string): Uint8Array {
    if (n < 0 || this.offset + n > this.buf.length)
      throw new SealworkError('QUOTE_TRUNCATED', `Malformed quote: truncated ${this.what} (${field}).`, {
        hint: 'The quote is shorter than its own length fields say; check the file is complete.',
        details: { field, offset: this.offset, need: n, have: this.buf.length - this.offset },
      });
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u16(field: string): number {
    const b = this.take(2, field);
    return b[0]! | (b[1]! << 8);
  }
  u32(field: string): number {
    const b = this.take(4, field);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
  }
}

function u16At(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  if (raw.length !== ENCLAVE_REPORT_LEN) throw malformed('enclave report is not 384 bytes');
  const attributes = raw.subarray(48, 64);
  return {
    kind: 'sgx',
    cpuSvn: raw.subarray(0, 16),
    miscSelect: (raw[16]! | (raw[17]! << 8) | (raw[18]! << 16)) + raw[19]! * 0x1000000,
    isvExtProdId: raw.subarray(32, 48),
    attributes,
    mrEnclave: raw.subarray(64, 96),
    mrSigner: raw.subarray(128, 160),
    configId: raw.subarray(192, 256),
    isvProdId: u16At(raw, 256),
    isvSvn: u16At(raw, 258),
    configSvn: u16At(raw, 260),
    isvFamilyId: raw.subarray(304, 320),
    reportData: raw.subarray(320, 384),
    debug: (attributes[0]! & 0x02) !== 0,
    raw,
  };
}

export function parseTdReport(raw: Uint8Array): TdReport {
  if (raw.length !== TD10_REPORT_LEN && raw.length !== TD15_REPORT_LEN)
    throw malformed('TD report is neither 584 nor 648 bytes');
  const tdAttributes = raw.subarray(120, 128);
  const r: TdReport = {
    kind: raw.length === TD15_REPORT_LEN ? 'td15' : 'td10',
    teeTcbSvn: raw.subarray(0, 16),
    mrSeam: raw.subarray(16, 64),
    mrSignerSeam: raw.subarray(64, 112),
    seamAttributes: raw.subarray(112, 120),
    tdAttributes,
    xfam: raw.subarray(128, 136),
    mrTd: raw.subarray(136, 184),
    mrConfigId: raw.subarray(184, 232),
    mrOwner: raw.subarray(232, 280),
    mrOwnerConfig: raw.subarray(280, 328),
    rtmr: [raw.subarray(328, 376), raw.subarray(376, 424), raw.subarray(424, 472), raw.subarray(472, 520)],
    reportData: raw.subarray(520, 584),
    debug: (tdAttributes[0]! & 0x01) !== 0,
    raw,
  };
  if (r.kind === 'td15') {
    r.teeTcbSvn2 = raw.subarray(584, 600);
    r.mrServiceTd = raw.subarray(600, 648);
  }
  return r;
}

const PEM_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** Split PEM text (possibly NUL-terminated) into certificate blocks. */
export function splitPem(text: string): string[] {
  return text.match(PEM_RE) ?? [];
}

/**
 * The certificates of type 5 certification data: a PEM chain (leaf first), each block's base64 in
 * canonical form, blocks separated by line breaks only, optionally NUL-terminated (as Intel's QE
 * writes it); or — in some synthetic vectors — DER certificates back to back. Every byte must
 * belong to that shape: this data is not covered by any signature (only the certificates' own
 * signatures protect them), so a byte the parser skipped could change without the quote failing.
 * Returns undefined for anything else.
 */
function certChainFrom(data: Uint8Array): string[] | undefined {
  const end = data.length > 0 && data[data.length - 1] === 0 ? data.length - 1 : data.length;
  const text = Buffer.from(data.subarray(0, end)).toString('latin1');
  if (text.startsWith('-----BEGIN ')) return strictPemChain(text);
  return derChain(data);
}

const PEM_BLOCK =
  /(?:\r?\n)*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n-----END CERTIFICATE-----(?:\r?\n)*/y;

function strictPemChain(text: string): string[] | undefined {
  const out: string[] = [];
  PEM_BLOCK.lastIndex = 0;
  while (PEM_BLOCK.lastIndex < text.length) {
    const start = PEM_BLOCK.lastIndex;
    const m = PEM_BLOCK.exec(text);
    if (!m) return undefined;
    const lines = m[1]!.split(/\r?\n/);
    const b64 = lines.join('');
    // Canonical base64 only: decoding then encoding gives back the same text (no stray
    // characters, no non-zero padding bits, '=' only at the end).
    if (lines.some((l) => l.length === 0 || l.includes('\r')) || b64.length % 4 !== 0) return undefined;
    if (Buffer.from(b64, 'base64').toString('base64') !== b64) return undefined;
    out.push(text.slice(start, PEM_BLOCK.lastIndex).trim());
  }
  return out.length > 0 ? out : undefined;
}

function derChain(data: Uint8Array): string[] | undefined {
  const out: string[] = [];
  let p = 0;
  try {
    while (p < data.length) {
      const t = readTlv(data, p);
      if (t.tag !== 0x30) return undefined;
      children(t.content); // must be a well-formed SEQUENCE
      const b64 = Buffer.from(t.raw)
        .toString('base64')
        .replace(/(.{64})/g, '$1\n');
      out.push(`-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----`);
      p = t.end;
    }
  } catch {
    return undefined;
  }
  return out.length > 0 ? out : undefined;
}

function readCertification(r: Reader): CertificationData {
  const type = r.u16('certification data type');
  const size = r.u32('certification data size');
  if (size > MAX_SIG_DATA) throw malformed('certification data size is implausibly large', { size });
  const data = r.take(size, 'certification data');
  const cd: CertificationData = { type, data };
  if (type === 5) {
    const chain = certChainFrom(data);
    if (!chain)
      throw malformed('certification data type 5 is not a well-formed certificate chain (PEM or DER)');
    cd.pemChain = chain;
  }
  return cd;
}

interface QeSection {
  qeReport: EnclaveReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certification: CertificationData;
}

function readQeSection(r: Reader): QeSection {
  const qeReport = parseEnclaveReport(r.take(ENCLAVE_REPORT_LEN, 'QE report'));
  const qeReportSignature = r.take(64, 'QE report signature');
  const authLen = r.u16('QE auth data size');
  const qeAuthData = r.take(authLen, 'QE auth data');
  const certification = readCertification(r);
  return { qeReport, qeReportSignature, qeAuthData, certification };
}

/**
 * Parse a DCAP quote. Bytes after the quote (padding) are ignored: lengths come from the quote itself.
 * Throws SealworkError QUOTE_MALFORMED / QUOTE_TRUNCATED / QUOTE_UNSUPPORTED.
 */
export function parseQuote(bytes: Uint8Array): Quote {
  if (!(bytes instanceof Uint8Array)) throw malformed('input is not bytes');
  const r = new Reader(bytes, 'quote');
  const hb = r.take(HEADER_LEN, 'header');
  const header: QuoteHeader = {
    version: u16At(hb, 0),
    attestationKeyType: u16At(hb, 2),
    teeType: (hb[4]! | (hb[5]! << 8) | (hb[6]! << 16)) + hb[7]! * 0x1000000,
    qeSvn: u16At(hb, 8),
    pceSvn: u16At(hb, 10),
    qeVendorId: hb.subarray(12, 28),
    userData: hb.subarray(28, 48),
  };
  const unsupported = (msg: string) =>
    new SealworkError('QUOTE_UNSUPPORTED', `Unsupported quote: ${msg}.`, {
      hint: 'sealwork verifies ECDSA-P256 DCAP quotes: SGX v3/v4 and TDX v4/v5.',
      details: { version: header.version, teeType: header.teeType },
    });
  if (header.version < 3 || header.version > 5) throw unsupported(`version ${header.version}`);
  if (header.teeType !== TEE_TYPE_SGX && header.teeType !== TEE_TYPE_TDX)
    throw unsupported(`TEE type 0x${header.teeType.toString(16)}`);
  if (header.version === 3 && header.teeType !== TEE_TYPE_SGX) throw unsupported('v3 quotes are SGX only');
  if (header.attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256)
    throw unsupported(`attestation key type ${header.attestationKeyType}`);

  let bodyType: 1 | 2 | 3;
  let bodyLen: number;
  if (header.version === 5) {
    const t = r.u16('body type');
    const size = r.u32('body size');
    if (t === 1 && size === ENCLAVE_REPORT_LEN && header.teeType === TEE_TYPE_SGX) bodyType = 1;
    else if (t === 2 && size === TD10_REPORT_LEN && header.teeType === TEE_TYPE_TDX) bodyType = 2;
    else if (t === 3 && size === TD15_REPORT_LEN && header.teeType === TEE_TYPE_TDX) bodyType = 3;
    else throw malformed(`body type ${t} with size ${size} does not fit the TEE type`, { bodyType: t, size });
    bodyLen = size;
  } else if (header.teeType === TEE_TYPE_SGX) {
    bodyType = 1;
    bodyLen = ENCLAVE_REPORT_LEN;
  } else {
    bodyType = 2;
    bodyLen = TD10_REPORT_LEN;
  }
  const bodyRaw = r.take(bodyLen, 'report body');
  const body = bodyType === 1 ? parseEnclaveReport(bodyRaw) : parseTdReport(bodyRaw);
  const signedData = bytes.subarray(0, r.offset);

  const sigLen = r.u32('signature data size');
  if (sigLen > MAX_SIG_DATA) throw malformed('signature data size is implausibly large', { sigLen });
  const sr = new Reader(r.take(sigLen, 'signature data'), 'signature data');
  const signature = sr.take(64, 'quote signature');
  const attestationKey = sr.take(64, 'attestation key');
  let qe: QeSection;
  if (header.version === 3) {
    qe = readQeSection(sr);
  } else {
    const outer = readCertification(sr);
    if (outer.type !== 6)
      throw malformed(`v${header.version} certification data must be type 6 (QE report), not ${outer.type}`);
    const inner = new Reader(outer.data, 'QE report certification data');
    qe = readQeSection(inner);
    if (inner.offset !== outer.data.length)
      throw malformed('trailing bytes in the QE report certification data');
  }
  if (sr.offset !== sigLen) throw malformed('signature data length does not match its contents');
  const length = r.offset;
  return {
    header,
    tee: header.teeType === TEE_TYPE_TDX ? 'tdx' : 'sgx',
    bodyType,
    body,
    signedData,
    signature,
    attestationKey,
    ...qe,
    length,
    trailingBytes: bytes.length - length,
    raw: bytes.subarray(0, length),
  };
}

/** Accept raw bytes, or hex text (optionally 0x-prefixed, whitespace allowed). */
export function quoteBytesFrom(input: Uint8Array | string): Uint8Array {
  if (typeof input !== 'string') {
    // A file may hold hex text: detect it (all hex digits/whitespace, even count).
    const head = Buffer.from(input.subarray(0, 64)).toString('latin1');
    if (
      /^(0x)?[0-9a-fA-F\s]+$/.test(head) &&
      /^(0x)?[0-9a-fA-F\s]*$/.test(Buffer.from(input).toString('latin1'))
    )
      return quoteBytesFrom(Buffer.from(input).toString('latin1'));
    return input;
  }
  const hex = input.trim().replace(/^0x/i, '').replace(/\s+/g, '');
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw malformed('hex input has an odd length or non-hex characters');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
