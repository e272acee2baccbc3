/**
 * The real DCAP vectors, copied byte for byte into test/fixtures/dcap (provenance and licences in
 * its SOURCES.md and test/fixtures/README.md), and the collateral each one is verified with at a
 * pinned time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { requires } from '../helpers/prereq.js';
import {
  parseCollateral,
  quoteBytesFrom,
  type Collateral,
  type TcbStatus,
  type TrustedRoot,
} from '../../src/attestation/index.js';

export const VECTORS = join(ROOT, 'test', 'fixtures', 'dcap');
export const HAVE_VECTORS = existsSync(join(VECTORS, 'parsed-expected.json'));
export const SKIP = requires('real DCAP vectors', [
  { name: 'test/fixtures/dcap', present: HAVE_VECTORS, enable: 'restore test/fixtures/dcap from git' },
]);

export const readVec = (f: string) => readFileSync(join(VECTORS, f));
export const textVec = (f: string) => readFileSync(join(VECTORS, f), 'utf8');
export const quoteVec = (f: string) => quoteBytesFrom(new Uint8Array(readVec(f)));

export interface ParsedExpected {
  file: string;
  version: number;
  tee_type: string;
  quote_len: number;
  qe_svn: number;
  pce_svn: number;
  qe_vendor_id: string;
  signed_len: number;
  cert_data_type: number;
  qe_auth_data_len: number;
  attest_key: string;
  mrenclave?: string;
  mrsigner?: string;
  isv_prod_id?: number;
  isv_svn?: number;
  attributes?: string;
  debug: boolean;
  cpu_svn?: string;
  miscselect?: number;
  report_data: string;
  mr_td?: string;
  rtmr?: string[];
  mr_seam?: string;
  tee_tcb_svn?: string;
  td_attributes?: string;
  xfam?: string;
  mr_config_id?: string;
  mr_owner?: string;
  body_type?: number;
  qe_report: { mrenclave: string; mrsigner: string; isv_prod_id: number; isv_svn: number };
}

export function parsedExpected(): Record<string, ParsedExpected> {
  return JSON.parse(textVec('parsed-expected.json')) as Record<string, ParsedExpected>;
}

export interface VerifyCase {
  name: string;
  quote: string;
  collateral: () => Collateral;
  at: string;
  roots?: () => TrustedRoot[];
  /** Expected outcome; `status: null` = no TCB level matches. */
  ok: boolean;
  status: TcbStatus | null;
  advisories: string[];
  fmspc: string;
  /** dcap-qvl refuses these for a reason outside TCB status (debug, MRSERVICETD). */
  qvlRefuses?: RegExp;
}

const json = (f: string) => JSON.parse(textVec(f)) as Record<string, unknown>;
const phSgx = () => json('phala-dcap-qvl/sgx_quote_collateral.json');
const phTdx = () => json('phala-dcap-qvl/tdx_quote_collateral.json');

/** Automata PCS-format bodies, with the TCB signing chain and CRLs of a matching period. */
function pcs(tcb: string, qe: string, crls: { root: unknown; pck: unknown }): Collateral {
  return parseCollateral({
    tcbInfo: textVec(tcb),
    qeIdentity: textVec(qe),
    tcbInfoIssuerChain: phSgx().tcb_info_issuer_chain,
    rootCaCrl: crls.root,
    pckCrl: crls.pck,
  });
}
const evm0825 = () =>
  pcs(
    'automata-dcap-attestation/evm_0825_sgx_tcbinfov3_00606a000000.json',
    'automata-dcap-attestation/evm_0825_sgx_qeidentity_v4.json',
    {
      root: phSgx().root_ca_crl,
      pck: readVec('automata-dcap-attestation/evm_0825_platform_crl.der'),
    },
  );
const evm0625 = (tcb: string) =>
  pcs(`automata-dcap-attestation/${tcb}`, 'automata-dcap-attestation/evm_0625_qe_td.json', {
    root: phTdx().root_ca_crl,
    pck: phTdx().pck_crl,
  });

export const CASES: VerifyCase[] = [
  {
    name: 'phala SGX v3',
    quote: 'phala-dcap-qvl/sgx_quote',
    collateral: () => parseCollateral(textVec('phala-dcap-qvl/sgx_quote_collateral.json')),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'ConfigurationAndSWHardeningNeeded',
    advisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
    fmspc: '00a067110000',
  },
  {
    name: 'phala TDX v4',
    quote: 'phala-dcap-qvl/tdx_quote',
    collateral: () => parseCollateral(textVec('phala-dcap-qvl/tdx_quote_collateral.json')),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'UpToDate',
    advisories: [],
    fmspc: 'b0c06f000000',
  },
  {
    name: 'phala TDX v5 (no TCB level matches)',
    quote: 'phala-dcap-qvl/tdx_quote_outdated',
    collateral: () => parseCollateral(textVec('phala-dcap-qvl/tdx_quote_outdated_collateral.json')),
    at: '2026-02-20T00:00:00Z',
    ok: false,
    status: null,
    advisories: [],
    fmspc: '90c06f000000',
  },
  {
    name: 'automata SGX v3 (hex)',
    quote: 'automata-dcap-attestation/quotev3.hex',
    collateral: evm0825,
    at: '2025-08-20T00:00:00Z',
    ok: true,
    status: 'SWHardeningNeeded',
    advisories: ['INTEL-SA-00615'],
    fmspc: '00606a000000',
  },
  {
    name: 'automata TDX v4 (hex, padded)',
    quote: 'automata-dcap-attestation/quotev4.hex',
    collateral: () => evm0625('evm_0625_tcbinfov3_00806f050000.json'),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'OutOfDate',
    advisories: ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986'],
    fmspc: '00806f050000',
  },
  {
    name: 'automata TDX v4 (binary, padded)',
    quote: 'automata-dcap-attestation/solana_quote_tdx.bin',
    collateral: () => evm0625('evm_0625_tcbinfov3_00806f050000.json'),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'OutOfDate',
    advisories: ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986'],
    fmspc: '00806f050000',
  },
  {
    name: 'automata TDX v5',
    quote: 'automata-dcap-attestation/quotev5.dat',
    collateral: () => evm0625('evm_0625_tcbinfov3_90C06F000000.json'),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'UpToDate',
    advisories: [],
    fmspc: '90c06f000000',
    qvlRefuses: /mr service td/i,
  },
  {
    name: 'automata SGX v3 debug enclave',
    quote: 'automata-dcap-attestation/solana_quote_sgx.bin',
    collateral: () => parseCollateral(textVec('phala-dcap-qvl/sgx_quote_collateral.json')),
    at: '2025-06-20T00:00:00Z',
    ok: true,
    status: 'ConfigurationAndSWHardeningNeeded',
    advisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
    fmspc: '00a067110000',
    qvlRefuses: /debug/i,
  },
  {
    name: 'occlum SGX v3 debug enclave',
    quote: 'coco-trustee/occlum_quote.dat',
    collateral: evm0825,
    at: '2025-08-20T00:00:00Z',
    ok: true,
    status: 'OutOfDate',
    advisories: [
      'INTEL-SA-00586',
      'INTEL-SA-00614',
      'INTEL-SA-00615',
      'INTEL-SA-00657',
      'INTEL-SA-00730',
      'INTEL-SA-00738',
      'INTEL-SA-00767',
      'INTEL-SA-00828',
      'INTEL-SA-00837',
      'INTEL-SA-00960',
    ],
    fmspc: '00606a000000',
    qvlRefuses: /debug/i,
  },
  {
    name: 'go-tdx-guest TDX v5',
    quote: 'go-tdx-guest/quote_v5_sample.dat',
    collateral: () => parseCollateral(textVec('phala-dcap-qvl/tdx_quote_outdated_collateral.json')),
    at: '2026-02-20T00:00:00Z',
    ok: true,
    status: 'UpToDate',
    advisories: [],
    fmspc: '90c06f000000',
  },
];

/** Intel's synthetic QVL sample (SGX v3, certification data type 1, its own test root). */
export const intelSample = {
  quote: 'intel-qvl-sampleData/quote.dat',
  collateral: () =>
    parseCollateral({
      tcbInfo: textVec('intel-qvl-sampleData/tcbInfo.json'),
      qeIdentity: textVec('intel-qvl-sampleData/qeIdentity.json'),
      tcbInfoIssuerChain:
        textVec('intel-qvl-sampleData/tcbSignChain.pem') +
        textVec('intel-qvl-sampleData/trustedRootCaCert.pem'),
      rootCaCrl: readVec('intel-qvl-sampleData/rootCaCrl.der'),
      pckCrl: readVec('intel-qvl-sampleData/intermediateCaCrl.der'),
      pckCertChain:
        textVec('intel-qvl-sampleData/pckCert.pem') + textVec('intel-qvl-sampleData/pckSignChain.pem'),
    }),
  root: (): TrustedRoot => ({
    name: 'Intel QVL sample test root',
    pem: textVec('intel-qvl-sampleData/trustedRootCaCert.pem'),
    simulated: false,
  }),
  at: '2025-01-01T00:00:00Z',
};
