/**
 * The simulated quoting platform. There is no SGX here: this produces quotes in exactly the
 * SGX DCAP v3 byte layout, signed by a simulated quoting enclave whose PCK certificate chains to
 * a locally generated **simulation root CA** — never to Intel's. Its collateral (TCB info, QE
 * identity, CRLs) is signed by a simulation TCB signing key. The verifier treats these quotes
 * like real ones, but only when the simulation root is passed as a trusted root, and marks the
 * result `simulated: true`; policies refuse them unless `allowSimulation: true`.
 *
 * State (generated once, kept under $SEALWORK_HOME/sim-platform/, keys 0600): the root, PCK CA,
 * PCK, TCB signing and attestation keys and certificates, and the current collateral.
 * First use is safe under concurrency: a complete state folder is built aside and renamed
 * into place; the loser of a race discards its copy and loads the winner's.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError, fsError } from '../errors.js';
import { enumerated, int, octets, oid, seq } from './der.js';
import { SGX_EXTENSION_OID } from './certs.js';
import { parseCollateral, collateralToJson, type Collateral } from './collateral.js';
import type { TrustedRoot } from './roots.js';
import { buildCertificate, buildCrl, type NameAttrs } from './x509build.js';
import { writeFileAtomic } from '../util/atomic.js';

const SIM_O = 'sealwork (simulation, not Intel)';
const NAMES = {
  root: { CN: 'sealwork Simulation SGX Root CA', O: SIM_O },
  pckCa: { CN: 'sealwork Simulation SGX PCK Platform CA', O: SIM_O },
  pck: { CN: 'sealwork Simulation SGX PCK Certificate', O: SIM_O },
  tcb: { CN: 'sealwork Simulation SGX TCB Signing', O: SIM_O },
} satisfies Record<string, NameAttrs>;

/** Simulated platform TCB (what the PCK certificate and TCB info describe). */
const SIM_COMP_SVN = [14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const SIM_PCE_SVN = 13;
const SIM_QE_SVN = 8;
const SIM_FMSPC = '00ffee000000';
const SIM_PCE_ID = '0000';
/** MRSIGNER of the simulated quoting enclave. */
export const SIM_QE_MRSIGNER = createHash('sha256')
  .update('sealwork simulated quoting enclave')
  .digest('hex');
const SIM_QE_PRODID = 1;
const DEFAULT_ATTRIBUTES = '0500000000000000e700000000000000';
const COLLATERAL_LIFETIME_MS = 365 * 24 * 3600 * 1000;
const COLLATERAL_REFRESH_MS = 30 * 24 * 3600 * 1000;

export interface SimQuoteParameters {
  /** 32 bytes (hex or bytes). */
  mrenclave: string | Uint8Array;
  /** 32 bytes (default zeros). */
  mrsigner?: string | Uint8Array;
  /** 16 bytes: FLAGS ‖ XFRM (default 0500000000000000e700000000000000: INIT|MODE64BIT, not debug). */
  attributes?: string | Uint8Array;
  isvProdId?: number;
  isvSvn?: number;
  /** Exactly 64 bytes (hex or bytes). */
  reportData: string | Uint8Array;
}

export interface SimPlatform {
  /** Produce an SGX v3 quote and its (simulation) collateral. */
  quote(params: SimQuoteParameters): Promise<{ quote: Uint8Array; collateral: Collateral }>;
  /** Synchronous variant of quote(). */
  quoteSync(params: SimQuoteParameters): { quote: Uint8Array; collateral: Collateral };
  /** The simulation root CA, to pass to verifyQuote/attest as a trusted root. */
  trustedRoot: TrustedRoot;
  /** Current simulation collateral. */
  collateral(): Collateral;
  /** The folder holding the platform state. */
  dir: string;
}

interface State {
  rootKey: KeyObject;
  rootPem: string;
  pckCaKey: KeyObject;
  pckCaPem: string;
  pckKey: KeyObject;
  pckPem: string;
  tcbKey: KeyObject;
  tcbPem: string;
  attKey: KeyObject;
}

const KEY_FILES = ['root', 'pck-ca', 'pck', 'tcb-signing', 'attestation'] as const;

function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

function pckExtension(ppid: Uint8Array): Uint8Array {
  const o = (n: string) => oid(`${SGX_EXTENSION_OID}.${n}`);
  const tcb = seq(
    ...SIM_COMP_SVN.map((svn, i) => seq(o(`2.${i + 1}`), int(svn))),
    seq(o('2.17'), int(SIM_PCE_SVN)),
    seq(o('2.18'), octets(Uint8Array.from(SIM_COMP_SVN))),
  );
  return seq(
    seq(o('1'), octets(ppid)),
    seq(o('2'), tcb),
    seq(o('3'), octets(Buffer.from(SIM_PCE_ID, 'hex'))),
    seq(o('4'), octets(Buffer.from(SIM_FMSPC, 'hex'))),
    seq(o('5'), enumerated(0)),
  );
}

function generateState(): State {
  const now = Date.now();
  const notBefore = new Date(now - 24 * 3600 * 1000);
  const notAfter = new Date(now + 20 * 365 * 24 * 3600 * 1000);
  const rootKey = newKey();
  const pckCaKey = newKey();
  const pckKey = newKey();
  const tcbKey = newKey();
  const attKey = newKey();
  const pub = (k: KeyObject) => createPublicKey(k);
  const rootPem = buildCertificate({
    subject: NAMES.root,
    issuer: NAMES.root,
    publicKey: pub(rootKey),
    issuerKey: rootKey,
    issuerPublicKey: pub(rootKey),
    notBefore,
    notAfter,
    ca: true,
  });
  const pckCaPem = buildCertificate({
    subject: NAMES.pckCa,
    issuer: NAMES.root,
    publicKey: pub(pckCaKey),
    issuerKey: rootKey,
    issuerPublicKey: pub(rootKey),
    notBefore,
    notAfter,
    ca: true,
  });
  const tcbPem = buildCertificate({
    subject: NAMES.tcb,
    issuer: NAMES.root,
    publicKey: pub(tcbKey),
    issuerKey: rootKey,
    issuerPublicKey: pub(rootKey),
    notBefore,
    notAfter,
    ca: false,
  });
  const pckPem = buildCertificate({
    subject: NAMES.pck,
    issuer: NAMES.pckCa,
    publicKey: pub(pckKey),
    issuerKey: pckCaKey,
    issuerPublicKey: pub(pckCaKey),
    notBefore,
    notAfter,
    ca: false,
    extensions: [[SGX_EXTENSION_OID, pckExtension(randomBytes(16))]],
  });
  return { rootKey, rootPem, pckCaKey, pckCaPem, pckKey, pckPem, tcbKey, tcbPem, attKey };
}

function signJson(text: string, key: KeyObject): Uint8Array {
  return new Uint8Array(sign('sha256', Buffer.from(text), { key, dsaEncoding: 'ieee-p1363' }));
}

function makeCollateral(s: State, now = Date.now()): Collateral {
  const issue = new Date(now - 3600 * 1000);
  const next = new Date(now + COLLATERAL_LIFETIME_MS);
  const isoS = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const comps = (svns: number[]) => svns.map((svn) => ({ svn }));
  const tcbInfo = JSON.stringify({
    id: 'SGX',
    version: 3,
    issueDate: isoS(issue),
    nextUpdate: isoS(next),
    fmspc: SIM_FMSPC.toUpperCase(),
    pceId: SIM_PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: 1,
    tcbLevels: [
      {
        tcb: { sgxtcbcomponents: comps(SIM_COMP_SVN), pcesvn: SIM_PCE_SVN },
        tcbDate: '2025-01-01T00:00:00Z',
        tcbStatus: 'UpToDate',
      },
      {
        tcb: { sgxtcbcomponents: comps(SIM_COMP_SVN.map(() => 0)), pcesvn: 0 },
        tcbDate: '2020-01-01T00:00:00Z',
        tcbStatus: 'OutOfDate',
        advisoryIDs: ['SEALWORK-SIM-0001'],
      },
    ],
  });
  const qeIdentity = JSON.stringify({
    id: 'QE',
    version: 2,
    issueDate: isoS(issue),
    nextUpdate: isoS(next),
    tcbEvaluationDataNumber: 1,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: SIM_QE_MRSIGNER.toUpperCase(),
    isvprodid: SIM_QE_PRODID,
    tcbLevels: [
      { tcb: { isvsvn: SIM_QE_SVN }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: 'UpToDate' },
      {
        tcb: { isvsvn: 0 },
        tcbDate: '2020-01-01T00:00:00Z',
        tcbStatus: 'OutOfDate',
        advisoryIDs: ['SEALWORK-SIM-0002'],
      },
    ],
  });
  const chain = s.tcbPem + s.rootPem;
  return {
    tcbInfo,
    tcbInfoSignature: signJson(tcbInfo, s.tcbKey),
    tcbInfoIssuerChain: chain,
    qeIdentity,
    qeIdentitySignature: signJson(qeIdentity, s.tcbKey),
    qeIdentityIssuerChain: chain,
    rootCaCrl: buildCrl({ issuer: NAMES.root, issuerKey: s.rootKey, thisUpdate: issue, nextUpdate: next }),
    pckCrl: buildCrl({ issuer: NAMES.pckCa, issuerKey: s.pckCaKey, thisUpdate: issue, nextUpdate: next }),
    pckCrlIssuerChain: s.pckCaPem + s.rootPem,
  };
}

async function writeState(dir: string, s: State): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const keys: Record<(typeof KEY_FILES)[number], KeyObject> = {
    root: s.rootKey,
    'pck-ca': s.pckCaKey,
    pck: s.pckKey,
    'tcb-signing': s.tcbKey,
    attestation: s.attKey,
  };
  for (const name of KEY_FILES)
    await fs.writeFile(
      join(dir, `${name}.key`),
      keys[name].export({ type: 'pkcs8', format: 'pem' }) as string,
      {
        mode: 0o600,
      },
    );
  await fs.writeFile(join(dir, 'root.pem'), s.rootPem);
  await fs.writeFile(join(dir, 'pck-ca.pem'), s.pckCaPem);
  await fs.writeFile(join(dir, 'pck.pem'), s.pckPem);
  await fs.writeFile(join(dir, 'tcb-signing.pem'), s.tcbPem);
  await fs.writeFile(
    join(dir, 'collateral.json'),
    JSON.stringify(collateralToJson(makeCollateral(s)), null, 1),
  );
  await fs.writeFile(
    join(dir, 'README'),
    'sealwork simulated SGX quoting platform (NOT Intel, NOT real hardware). Keys are 0600.\n' +
      'Delete this folder to regenerate; quotes made before then stop verifying.\n',
  );
}

async function readState(dir: string): Promise<State> {
  const r = (f: string) => fs.readFile(join(dir, f), 'utf8');
  const key = async (f: string) => createPrivateKey(await r(`${f}.key`));
  return {
    rootKey: await key('root'),
    rootPem: await r('root.pem'),
    pckCaKey: await key('pck-ca'),
    pckCaPem: await r('pck-ca.pem'),
    pckKey: await key('pck'),
    pckPem: await r('pck.pem'),
    tcbKey: await key('tcb-signing'),
    tcbPem: await r('tcb-signing.pem'),
    attKey: await key('attestation'),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

function bytesArg(
  v: string | Uint8Array | undefined,
  len: number,
  name: string,
  dflt?: Uint8Array,
): Uint8Array {
  if (v === undefined) {
    if (dflt) return dflt;
    throw new SealworkError('SIM_INVALID_INPUT', `Missing ${name}.`, { hint: `Give ${len} bytes as hex.` });
  }
  let b: Uint8Array;
  if (typeof v === 'string') {
    const h = v.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]*$/.test(h) || h.length % 2)
      throw new SealworkError('SIM_INVALID_INPUT', `${name} is not hex.`, {
        hint: `Give ${len} bytes as hex.`,
      });
    b = Buffer.from(h, 'hex');
  } else b = v;
  if (b.length !== len)
    throw new SealworkError('SIM_INVALID_INPUT', `${name} must be ${len} bytes, got ${b.length}.`, {
      hint: `Give exactly ${len * 2} hex digits.`,
      details: { name, expected: len, found: b.length },
    });
  return b;
}

function u16(n: number, name: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new SealworkError('SIM_INVALID_INPUT', `${name} must be an integer 0..65535.`, {
      details: { name },
    });
  return Uint8Array.of(n & 0xff, n >> 8);
}

/** An SGX report body (384 bytes). */
function reportBody(f: {
  cpuSvn: Uint8Array;
  attributes: Uint8Array;
  mrenclave: Uint8Array;
  mrsigner: Uint8Array;
  isvProdId: Uint8Array;
  isvSvn: Uint8Array;
  reportData: Uint8Array;
}): Uint8Array {
  const b = new Uint8Array(384);
  b.set(f.cpuSvn, 0);
  b.set(f.attributes, 48);
  b.set(f.mrenclave, 64);
  b.set(f.mrsigner, 128);
  b.set(f.isvProdId, 256);
  b.set(f.isvSvn, 258);
  b.set(f.reportData, 320);
  return b;
}

const VENDOR_ID = Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex');

/** Open (creating on first use) the simulated platform under `home`/sim-platform. */
export async function openSimPlatform(home: string): Promise<SimPlatform> {
  const dir = join(home, 'sim-platform');
  try {
    if (!(await exists(join(dir, 'collateral.json')))) {
      await fs.mkdir(home, { recursive: true });
      const tmp = join(home, `.sim-platform.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await writeState(tmp, generateState());
        await fs.rename(tmp, dir);
      } catch (e) {
        await fs.rm(tmp, { recursive: true, force: true });
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        // another process created it first: use theirs
      }
    }
  } catch (e) {
    throw e instanceof SealworkError ? e : fsError(e, dir, 'create the simulated platform in');
  }
  let s: State;
  let collateral: Collateral;
  try {
    s = await readState(dir);
    collateral = parseCollateral(await fs.readFile(join(dir, 'collateral.json'), 'utf8'));
  } catch (e) {
    throw new SealworkError('SIM_PLATFORM_CORRUPT', `The simulated platform in ${dir} cannot be loaded.`, {
      hint: `Delete ${dir} to regenerate it (quotes made with the old one will stop verifying).`,
      cause: e,
    });
  }
  const expiry = () => Date.parse((JSON.parse(collateral.tcbInfo) as { nextUpdate: string }).nextUpdate);
  let expiresAt = expiry();
  const refresh = () => {
    collateral = makeCollateral(s);
    expiresAt = expiry();
    return writeFileAtomic(
      join(dir, 'collateral.json'),
      JSON.stringify(collateralToJson(collateral), null, 1),
      {
        force: true,
      },
    ).catch(() => undefined); // best effort: the in-memory copy is what matters
  };
  if (expiresAt - Date.now() < COLLATERAL_REFRESH_MS) await refresh();

  // The quoting enclave's constant part: attestation key, QE report bound to it, its signature.
  const attPub = createPublicKey(s.attKey).export({ format: 'jwk' });
  const attRaw = Buffer.concat([Buffer.from(attPub.x!, 'base64url'), Buffer.from(attPub.y!, 'base64url')]);
  const qeAuthData = Uint8Array.from({ length: 32 }, (_, i) => i);
  const qeReportData = new Uint8Array(64);
  qeReportData.set(createHash('sha256').update(attRaw).update(qeAuthData).digest(), 0);
  const qeAttributes = Buffer.from('11000000000000000700000000000000', 'hex');
  const qeReport = reportBody({
    cpuSvn: Uint8Array.from(SIM_COMP_SVN),
    attributes: qeAttributes,
    mrenclave: createHash('sha256').update('sealwork simulated QE enclave').digest(),
    mrsigner: Buffer.from(SIM_QE_MRSIGNER, 'hex'),
    isvProdId: u16(SIM_QE_PRODID, 'qe prodid'),
    isvSvn: u16(SIM_QE_SVN, 'qe svn'),
    reportData: qeReportData,
  });
  const qeReportSig = sign('sha256', qeReport, { key: s.pckKey, dsaEncoding: 'ieee-p1363' });
  const certData = Buffer.concat([
    Buffer.from(s.pckPem + s.pckCaPem + s.rootPem, 'latin1'),
    Uint8Array.of(0),
  ]);
  const certHeader = Buffer.alloc(6);
  certHeader.writeUInt16LE(5, 0);
  certHeader.writeUInt32LE(certData.length, 2);
  const authLen = Buffer.alloc(2);
  authLen.writeUInt16LE(qeAuthData.length, 0);
  // Everything after the quote signature is the same for every quote.
  const sigTail = Buffer.concat([attRaw, qeReport, qeReportSig, authLen, qeAuthData, certHeader, certData]);
  const sigDataLen = Buffer.alloc(4);
  sigDataLen.writeUInt32LE(64 + sigTail.length, 0);
  const header = Buffer.alloc(48);
  header.writeUInt16LE(3, 0); // version
  header.writeUInt16LE(2, 2); // ECDSA-256-with-P-256
  header.writeUInt32LE(0, 4); // TEE type SGX (reserved in v3)
  header.writeUInt16LE(SIM_QE_SVN, 8);
  header.writeUInt16LE(SIM_PCE_SVN, 10);
  VENDOR_ID.copy(header, 12);

  const trustedRoot: TrustedRoot = Object.freeze({
    name: 'sealwork simulation root CA',
    pem: s.rootPem,
    simulated: true,
  });

  const quoteSync = (p: SimQuoteParameters) => {
    if (!p || typeof p !== 'object')
      throw new SealworkError('SIM_INVALID_INPUT', 'Missing quote parameters.', {
        hint: 'Give mrenclave and reportData.',
      });
    const body = reportBody({
      cpuSvn: Uint8Array.from(SIM_COMP_SVN),
      attributes: bytesArg(p.attributes, 16, 'attributes', Buffer.from(DEFAULT_ATTRIBUTES, 'hex')),
      mrenclave: bytesArg(p.mrenclave, 32, 'mrenclave'),
      mrsigner: bytesArg(p.mrsigner, 32, 'mrsigner', new Uint8Array(32)),
      isvProdId: u16(p.isvProdId ?? 0, 'isvProdId'),
      isvSvn: u16(p.isvSvn ?? 0, 'isvSvn'),
      reportData: bytesArg(p.reportData, 64, 'reportData'),
    });
    const signed = Buffer.concat([header, body]);
    const sig = sign('sha256', signed, { key: s.attKey, dsaEncoding: 'ieee-p1363' });
    if (expiresAt - Date.now() < COLLATERAL_REFRESH_MS) void refresh();
    return { quote: new Uint8Array(Buffer.concat([signed, sigDataLen, sig, sigTail])), collateral };
  };
  return {
    quote: async (p) => quoteSync(p),
    quoteSync,
    trustedRoot,
    collateral: () => collateral,
    dir,
  };
}
