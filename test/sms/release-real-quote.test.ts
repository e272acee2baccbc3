/**
 * Real Intel quotes through the SMS release path (issue 11, finding 4): recorded DCAP quotes of
 * real SGX hardware (test/fixtures/dcap), their collateral, and an SMS whose verification clock is
 * pinned inside the collateral's validity window, over HTTPS against a real anvil.
 *
 * We cannot make a real enclave sign new REPORTDATA, so a good real quote goes as far as the last
 * enclave check, the binding of the session key (REPORTDATA_MISMATCH, audited with the quote's
 * MRENCLAVE and MRSIGNER): the checks run in order, so the quote verified at the Intel root (the
 * SMS refuses simulation), passed the policy and matched the app's fingerprint. Every other row
 * of the table moves one input away from that and must be refused earlier, with the code of the
 * step it breaks (a Trustee-style policy table). Two rows use Intel's QVL sample quote, under Intel's
 * own test root: verified only by an SMS given that root as an extra trust anchor.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import {
  collateralToJson,
  parseCollateral,
  type PolicyInput,
  type TrustedRoot,
} from '../../src/attestation/index.js';
import { isSealworkError } from '../../src/errors.js';
import { generateSessionKeyPair, type SessionRequest } from '../../src/protocol/index.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { startTestSms, type TestSms } from '../helpers/sms.js';
import { intelSample, quoteVec, SKIP, textVec } from '../attestation/vectors.js';
import { setupWorld, type World } from './fixtures.js';

/** Phala's SGX v3 quote (real hardware, production enclave) and the debug-enclave quote beside it. */
const REAL = {
  quote: 'phala-dcap-qvl/sgx_quote',
  mrenclave: '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb',
  mrsigner: '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6',
  status: 'ConfigurationAndSWHardeningNeeded',
  advisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
};
const DEBUG = {
  quote: 'automata-dcap-attestation/solana_quote_sgx.bin',
  mrenclave: 'a39d532e6ac9fe8ad9418851bbe26e1dee7408006505fce8580b511b97e704b4',
  mrsigner: '9affcfae47b848ec2caf1c49b4b283531e1cc425f93582b36806e52a43d78d1a',
};
/** Intel's QVL sample (SGX v3, PCK chain in the collateral) under Intel's own test root. */
const SAMPLE = { mrenclave: '0'.repeat(64), mrsigner: '0'.repeat(64) };
const SAMPLE_AT = new Date(intelSample.at);

/** Both verify with this collateral (TCB info issued 2025-06-19, next update 2025-07-19) at this time. */
const COLLATERAL = 'phala-dcap-qvl/sgx_quote_collateral.json';
const PINNED = new Date('2025-06-20T00:00:00Z');

/** The SMS policy that accepts the real quote's TCB (status and advisories): only the binding is left. */
const ACCEPTING: Omit<PolicyInput, 'mrenclave'> = {
  acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded'],
  acceptedAdvisories: REAL.advisories,
};

interface Case {
  name: string;
  /** Which SMS (policy, clock) it is sent to. */
  sms: keyof typeof SMS_CONFIGS;
  quote: 'real' | 'debug' | 'real, one signed byte changed' | 'sample';
  /** The app (its on-chain fingerprint) of the deal. */
  app: 'real' | 'debug' | 'other' | 'sample';
  code: string;
  /** What the refusal's message must say (the step and the claim that failed). */
  reason: RegExp;
}

const SMS_CONFIGS: Record<
  'accepting' | 'default' | 'signer' | 'unpinned' | 'sample' | 'sampleUntrusted',
  { policy: Omit<PolicyInput, 'mrenclave'>; at?: Date; trustedRoots?: () => TrustedRoot[] }
> = {
  /** The TCB of the quotes accepted, clock pinned. */
  accepting: { policy: ACCEPTING, at: PINNED },
  /** The SMS default policy (UpToDate only), clock pinned. */
  default: { policy: {}, at: PINNED },
  /** Accepting, and only enclaves of the debug quote's signer. */
  signer: { policy: { ...ACCEPTING, mrsigner: DEBUG.mrsigner, isvProdId: 0 }, at: PINNED },
  /** Accepting, with the real clock: the collateral expired long ago. */
  unpinned: { policy: ACCEPTING },
  /** The default policy, trusting Intel's QVL test root besides the production root. */
  sample: { policy: {}, at: SAMPLE_AT, trustedRoots: () => [intelSample.root()] },
  /** The same without that root. */
  sampleUntrusted: { policy: {}, at: SAMPLE_AT },
};

const CASES: Case[] = [
  {
    name: 'every check before the binding passes: REPORTDATA_MISMATCH',
    sms: 'accepting',
    quote: 'real',
    app: 'real',
    code: 'REPORTDATA_MISMATCH',
    reason: /REPORTDATA\[0:32\] is not sha256\(publicKey ‖ nonce\)/,
  },
  {
    name: 'the app of the deal has another MRENCLAVE: MRENCLAVE_MISMATCH',
    sms: 'accepting',
    quote: 'real',
    app: 'other',
    code: 'MRENCLAVE_MISMATCH',
    reason: new RegExp(`MRENCLAVE ${REAL.mrenclave} is not the MrEnclave of app`),
  },
  {
    name: 'TCB status not accepted by the policy: POLICY_REFUSED',
    sms: 'default',
    quote: 'real',
    app: 'real',
    code: 'POLICY_REFUSED',
    reason: new RegExp(`Policy refused \\(tcbStatus\\): TCB status ${REAL.status} is not accepted`),
  },
  {
    name: 'debug enclave: ENCLAVE_DEBUG',
    sms: 'accepting',
    quote: 'debug',
    app: 'debug',
    code: 'ENCLAVE_DEBUG',
    reason: /Policy refused \(debug\): the enclave is in DEBUG mode/,
  },
  {
    name: 'wrong signer (the policy pins another MRSIGNER): POLICY_REFUSED',
    sms: 'signer',
    quote: 'real',
    app: 'real',
    code: 'POLICY_REFUSED',
    reason: /Policy refused \(mrsigner\): MRSIGNER is not in the accepted list/,
  },
  {
    name: 'the collateral is out of date at the real time: QUOTE_INVALID',
    sms: 'unpinned',
    quote: 'real',
    app: 'real',
    code: 'QUOTE_INVALID',
    reason: /collateral\.validity/,
  },
  {
    name: 'one byte of the signed report body changed: QUOTE_INVALID',
    sms: 'accepting',
    quote: 'real, one signed byte changed',
    app: 'real',
    code: 'QUOTE_INVALID',
    reason: /quote\.signature/,
  },
  {
    name: 'a quote under another root the SMS was told to trust (injected root): REPORTDATA_MISMATCH',
    sms: 'sample',
    quote: 'sample',
    app: 'sample',
    code: 'REPORTDATA_MISMATCH',
    reason: /REPORTDATA\[0:32\] is not sha256\(publicKey ‖ nonce\)/,
  },
  {
    name: 'the same quote to an SMS that trusts only the Intel root: QUOTE_ROOT_UNTRUSTED',
    sms: 'sampleUntrusted',
    quote: 'sample',
    app: 'sample',
    code: 'QUOTE_ROOT_UNTRUSTED',
    reason: /does not chain to a root this SMS trusts/,
  },
];

describe('real Intel quotes through the SMS release path', { skip: SKIP }, () => {
  let chain: TestChain;
  let world: World;
  const sms = {} as Record<keyof typeof SMS_CONFIGS, TestSms>;
  const tasks = {} as Record<Case['app'], { dealId: Hex; taskId: Hex; app: Address }>;
  const collateral = collateralToJson(parseCollateral(textVec(COLLATERAL)));
  const sampleCollateral = collateralToJson(intelSample.collateral());

  before(async () => {
    chain = await startTestChain();
    world = await setupWorld(chain);
    const fingerprint = (mrenclave: string) =>
      JSON.stringify({
        framework: 'SCONE',
        version: 'v5',
        entrypoint: '/bin/sh /app/run.sh',
        heapSize: 1073741824,
        fingerprint: `${mrenclave}|${randomBytes(32).toString('hex')}|${randomBytes(16).toString('hex')}`,
      });
    for (const [which, mrenclave] of [
      ['real', REAL.mrenclave],
      ['debug', DEBUG.mrenclave],
      ['other', randomBytes(32).toString('hex')],
      ['sample', SAMPLE.mrenclave],
    ] as const) {
      const app = await world.newApp(fingerprint(mrenclave));
      const dealId = await world.deal({ app });
      tasks[which] = { dealId, taskId: await world.initialize(dealId, 0), app };
    }
    for (const [name, c] of Object.entries(SMS_CONFIGS) as [
      keyof typeof SMS_CONFIGS,
      (typeof SMS_CONFIGS)['accepting'],
    ][]) {
      const at = c.at;
      sms[name] = await startTestSms({
        chain,
        allowSimulation: false,
        policy: c.policy,
        ...(at ? { verificationTime: () => at } : {}),
        ...(c.trustedRoots ? { trustedRoots: c.trustedRoots() } : {}),
      });
    }
  });
  after(async () => {
    for (const s of Object.values(sms)) await s.stop();
    await chain?.stop();
  });

  /** A session request as a worker sends it, with the recorded quote in place of a fresh one. */
  async function request(s: TestSms, c: Case): Promise<SessionRequest> {
    const t = tasks[c.app];
    const challenge = await s.client.getEnclaveChallenge(world.roles.scheduler.account, t.taskId);
    const key = generateSessionKeyPair();
    const { nonce } = await s.client.getNonce();
    const quote = Buffer.from(
      quoteVec(c.quote === 'debug' ? DEBUG.quote : c.quote === 'sample' ? intelSample.quote : REAL.quote),
    );
    if (c.quote === 'real, one signed byte changed') quote[48 + 320] = quote[48 + 320]! ^ 0x01; // REPORTDATA[0]
    return {
      authorization: {
        chainTaskId: t.taskId,
        dealId: t.dealId,
        taskIndex: 0,
        workerWallet: world.roles.worker.account.address,
        enclaveChallenge: challenge,
        signature: await world.authorize(t.taskId, challenge),
      },
      quote: `0x${quote.toString('hex')}`,
      collateral: c.quote === 'sample' ? sampleCollateral : collateral,
      publicKey: key.publicJwk,
      nonce,
    };
  }

  for (const c of CASES)
    it(c.name, async () => {
      const s = sms[c.sms];
      const req = await request(s, c);
      await assert.rejects(s.client.openSession(world.roles.worker.account, req), (e: unknown) => {
        assert.ok(isSealworkError(e), String(e));
        assert.equal(e.code, c.code, e.message);
        assert.match(e.message, c.reason);
        return true;
      });
      const [row] = await s.store.listAudit({ limit: 1 });
      assert.equal(row?.verdict, 'refused');
      assert.equal(row?.code, c.code);
      assert.equal(row?.taskId, tasks[c.app].taskId.toLowerCase());
      assert.equal(row?.app, tasks[c.app].app.toLowerCase());
      assert.equal(row?.worker, world.roles.worker.account.address.toLowerCase());
      assert.deepEqual(row?.secrets, []);
      // The identity read from the quote, recorded whatever step refused it.
      const id = c.quote === 'debug' ? DEBUG : c.quote === 'sample' ? SAMPLE : REAL;
      assert.equal(row?.mrenclave, id.mrenclave);
      assert.equal(row?.mrsigner, id.mrsigner);
    });
});
