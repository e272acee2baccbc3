/**
 * The SMS's attested TLS (RA-TLS) and the clients' check before they send: the evidence binds the
 * TLS key, a pinned policy decides, and an SMS that fails (MrEnclave not pinned, a man in the
 * middle with a certificate of its own, a certificate whose key the quote does not bind) gets
 * nothing — proved on the SMS side: no request but `GET /attestation` reached it and its store
 * has no row.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer as createTlsServer, connect as tlsConnect, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildRatlsCertificate,
  openSimPlatform,
  ratlsReportData,
  spkiOf,
  type TrustedRoot,
} from '../../src/attestation/index.js';
import { createLogger } from '../../src/sms/index.js';
import {
  createSmsClient,
  getAttestation,
  verifySmsEvidence,
  type SmsPinPolicy,
} from '../../src/sms-client/index.js';
import { pushDatasetSecret } from '../../src/sdk/sms/index.js';
import { generateSelfSignedCert } from '../../src/util/tls.js';
import { startTestChain, type TestChain } from '../helpers/chain.js';
import { runCli } from '../helpers/cli.js';
import { startTestSms, type TestSms } from '../helpers/sms.js';
import { setupWorld, type World } from './fixtures.js';

const hex32 = () => randomBytes(32).toString('hex');
/** The SMS's measured identity (sealwork sms measure), what its quote says. */
let IDENTITY: { mrEnclave: string; mrSigner: string };

let chain: TestChain;
let world: World;
let sms: TestSms;
let simRoot: TrustedRoot;
/** Every request that reached the SMS (method path), from its own request log. */
const reached: string[] = [];

const pin = (p: Partial<SmsPinPolicy> = {}): SmsPinPolicy => ({
  mrEnclave: [IDENTITY.mrEnclave],
  allowSimulation: true,
  ...p,
});

before(async () => {
  chain = await startTestChain();
  world = await setupWorld(chain);
  const logger = createLogger({
    level: 'debug',
    write: (line) => {
      const j = JSON.parse(line) as { msg: string; method?: string; path?: string };
      if (j.msg === 'request') reached.push(`${j.method} ${j.path}`);
    },
  });
  sms = await startTestSms({ chain, logger });
  IDENTITY = { mrEnclave: sms.measurement.mrEnclave, mrSigner: sms.measurement.mrSigner };
  simRoot = (await openSimPlatform(sms.home)).trustedRoot;
});
after(async () => {
  await sms?.stop();
  await chain?.stop();
});

/** A TLS proxy on 127.0.0.1 with its own certificate, forwarding bytes to the real SMS. */
async function mitmProxy(): Promise<{ url: string; cert: string; server: TlsServer }> {
  const { cert, key } = await generateSelfSignedCert(['127.0.0.1'], 'a valid certificate for 127.0.0.1');
  const target = new URL(sms.url);
  const server = createTlsServer({ cert, key }, (down) => {
    const up = tlsConnect({ host: target.hostname, port: Number(target.port), rejectUnauthorized: false });
    down.pipe(up).pipe(down);
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert, server };
}

describe('the SMS serves attested TLS (RA-TLS)', () => {
  it('its certificate key is bound by the quote it serves, with its identity, and the key is not on disk', async () => {
    const { evidence, tlsPublicKeySpki } = await getAttestation(sms.url);
    assert.equal(evidence.certificate, sms.cert, 'the certificate served at /attestation is the TLS one');
    const v = await verifySmsEvidence(evidence, pin(), { trustedRoots: [simRoot], tlsPublicKeySpki });
    assert.equal(v.ok, true, JSON.stringify(v.checks.filter((c) => !c.ok)));
    assert.equal(v.simulated, true);
    assert.equal(v.mrEnclave, IDENTITY.mrEnclave);
    assert.equal(v.mrSigner, IDENTITY.mrSigner);
    assert.equal(v.tcbStatus, 'UpToDate');
    const rd = v.checks.find((c) => c.name.startsWith('REPORTDATA'))!;
    assert.equal(rd.actual, ratlsReportData(tlsPublicKeySpki).toString('hex'));
    assert.match(rd.actual!, /0{64}$/, 'the second half of REPORTDATA is zero');
    assert.equal(new X509Certificate(sms.cert!).publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const tlsDir = await fs.readdir(join(sms.home, 'sms', 'tls'));
    assert.deepEqual(tlsDir, ['attested-cert.pem'], 'no private key file');
    const pem = sms.attested!.keyPem.replace(/-----[^-]+-----|\s/g, '');
    for (const f of await fs.readdir(join(sms.home, 'sms')))
      if ((await fs.stat(join(sms.home, 'sms', f))).isFile())
        assert.equal((await fs.readFile(join(sms.home, 'sms', f), 'utf8')).includes(pem), false, f);
  });

  it('deny by default: no pin, another MrEnclave, or the simulated platform without allowSimulation each fail their check', async () => {
    const { evidence, tlsPublicKeySpki } = await getAttestation(sms.url);
    const o = { trustedRoots: [simRoot], tlsPublicKeySpki };
    const failed = async (p: SmsPinPolicy) =>
      (await verifySmsEvidence(evidence, p, o)).checks.filter((c) => !c.ok).map((c) => c.code);
    assert.deepEqual(await failed({ allowSimulation: true }), ['SMS_NOT_PINNED']);
    assert.deepEqual(await failed(pin({ mrEnclave: [hex32()] })), ['SMS_POLICY_MISMATCH']);
    assert.deepEqual(await failed(pin({ mrEnclave: undefined, mrSigner: [IDENTITY.mrSigner] })), []);
    assert.deepEqual(await failed(pin({ mrEnclave: undefined, mrSigner: [hex32()] })), [
      'SMS_POLICY_MISMATCH',
    ]);
    // Without allowSimulation the simulation root is not trusted: the quote does not verify either.
    assert.deepEqual(await failed(pin({ allowSimulation: false })), [
      'SMS_NOT_ATTESTED',
      'SMS_POLICY_MISMATCH',
    ]);
  });

  it('a certificate whose key is not the quoted one fails the binding (SMS_KEY_NOT_BOUND)', async () => {
    const platform = await openSimPlatform(sms.home);
    const quoted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const { quote, collateral } = await platform.quote({
      mrenclave: IDENTITY.mrEnclave,
      reportData: ratlsReportData(spkiOf(quoted)),
    });
    const certificate = buildRatlsCertificate({ privateKey: other, quote, collateral });
    const { collateralToJson } = await import('../../src/attestation/index.js');
    const evidence = {
      certificate,
      quote: Buffer.from(quote).toString('hex'),
      collateral: collateralToJson(collateral),
      simulated: true,
    };
    const v = await verifySmsEvidence(evidence, pin(), {
      trustedRoots: [simRoot],
      tlsPublicKeySpki: spkiOf(other),
    });
    assert.equal(v.ok, false);
    assert.deepEqual(
      v.checks.filter((c) => !c.ok).map((c) => [c.name, c.code]),
      [["REPORTDATA binds the certificate's key", 'SMS_KEY_NOT_BOUND']],
    );
  });
});

describe('clients check before they send', () => {
  it('an SMS whose MrEnclave is not the pinned one gets nothing: the push is refused before it is sent', async () => {
    const key = randomBytes(32).toString('base64');
    reached.length = 0;
    const client = createSmsClient(sms.url, {
      attest: { policy: pin({ mrEnclave: [hex32()] }), trustedRoots: [simRoot] },
    });
    await assert.rejects(
      client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, key),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'SMS_POLICY_MISMATCH');
        assert.match(e.message, /nothing was sent/);
        return true;
      },
    );
    client.close();
    assert.deepEqual(reached, ['GET /attestation'], 'only the evidence was asked for');
    assert.equal(
      await sms.store.hasSecret({ kind: 'web3', owner: world.dataset.toLowerCase(), name: '' }),
      false,
    );
  });

  it('a man in the middle with a valid certificate for the host is refused (SMS_KEY_NOT_BOUND), though plain TLS trusts it', async () => {
    const proxy = await mitmProxy();
    try {
      // The proxy's certificate is valid for 127.0.0.1 to a plain-TLS client that trusts it…
      const plain = createSmsClient(proxy.url, { ca: proxy.cert });
      assert.equal((await plain.health()).status, 'ok');
      // …but its key is not the one the SMS's quote binds.
      reached.length = 0;
      const client = createSmsClient(proxy.url, {
        ca: proxy.cert,
        attest: { policy: pin(), trustedRoots: [simRoot] },
      });
      const key = randomBytes(32).toString('base64');
      await assert.rejects(
        client.pushDatasetSecret(world.roles.datasetOwner.account, world.dataset, key),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'SMS_KEY_NOT_BOUND');
          return true;
        },
      );
      client.close();
      assert.deepEqual(reached, ['GET /attestation'], 'the proxy forwarded only the evidence request');
      assert.equal(
        await sms.store.hasSecret({ kind: 'web3', owner: world.dataset.toLowerCase(), name: '' }),
        false,
      );
    } finally {
      proxy.server.close();
    }
  });

  it('an SMS serving plain HTTP or an operator certificate is not attested (SMS_NOT_ATTESTED)', async () => {
    const client = createSmsClient(sms.url.replace('https:', 'http:'), { attest: { policy: pin() } });
    await assert.rejects(client.health(), { code: 'SMS_NOT_ATTESTED' });
    const op = await startTestSms({ chain, ...(await operatorCert()) });
    try {
      const c = createSmsClient(op.url, { attest: { policy: pin(), trustedRoots: [simRoot] } });
      await assert.rejects(c.health(), { code: 'SMS_NOT_ATTESTED' });
      c.close();
      assert.equal((await op.client.health()).attestedTls, false, 'plain TLS still answers (iExec SDK path)');
    } finally {
      await op.stop();
    }
  });

  it('happy path: the SDK push attests once per connection and reports what the SMS proved', async () => {
    const client = createSmsClient(sms.url, { attest: { policy: pin(), trustedRoots: [simRoot] } });
    await client.health();
    await client.hasDatasetSecret(world.dataset);
    await client.getNonce();
    const agent = (client as unknown as { attestation(): unknown }).attestation();
    assert.ok(agent, 'a verdict is kept');
    client.close();
    const r = await pushDatasetSecret({
      home: sms.home,
      dataset: world.dataset,
      key: randomBytes(32).toString('base64'),
      privateKey: chain.accounts[2]!.privateKey,
    });
    assert.equal(r.smsAttestation?.mrEnclave, IDENTITY.mrEnclave);
    assert.equal(r.smsAttestation?.simulated, true);
    assert.equal(r.smsAttestation?.trustOnFirstUse, true, 'the pin came from the SMS record');
    assert.equal(await sms.client.hasDatasetSecret(world.dataset), true);
  });
});

describe('the CLI checks the SMS too', () => {
  const env = (pk?: number) => ({
    SEALWORK_HOME: sms.home,
    SEALWORK_CHAIN_URL: chain.url,
    SEALWORK_PRIVATE_KEY: pk === undefined ? undefined : chain.accounts[pk]!.privateKey,
    SEALWORK_SMS_MRENCLAVE: undefined,
    SEALWORK_SMS_MRSIGNER: undefined,
  });

  it('sms verify: exit 0 with identity, TCB and each check when the SMS passes; SMS_POLICY_MISMATCH and non-zero when the pin differs', async () => {
    let r = await runCli(['sms', 'verify', sms.url, '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = JSON.parse(r.stdout) as {
      verdict: { ok: boolean; simulated: boolean; mrEnclave: string; tcbStatus: string; checks: unknown[] };
      pin: { source: string };
    };
    assert.equal(j.verdict.ok, true);
    assert.equal(j.verdict.simulated, true);
    assert.equal(j.verdict.mrEnclave, IDENTITY.mrEnclave);
    assert.equal(j.verdict.tcbStatus, 'UpToDate');
    assert.ok(j.verdict.checks.length >= 8);
    assert.match(j.pin.source, /trust on first use/);
    r = await runCli(['sms', 'verify', sms.url, '--sms-mrenclave', hex32(), '--sms-allow-simulation'], {
      env: env(),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /FAIL {2}MrEnclave is pinned/);
    assert.match(r.stdout, /SIMULATED/);
    assert.match(r.stderr, /SMS_POLICY_MISMATCH/);
    r = await runCli(['sms', 'status'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /TLS: attested \(RA-TLS\)/);
    assert.match(r.stdout, /iExec SDK: iExec-SDK clients .* connect without verifying/);
  });

  it('a CLI push with another pinned MrEnclave is refused and sends nothing; with the right pin it is pushed', async () => {
    reached.length = 0;
    let r = await runCli(
      ['requester', 'push-secret', 'ratls-token', '--sms-mrenclave', hex32(), '--sms-allow-simulation'],
      {
        env: env(4),
        input: 'requester-secret-value',
      },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SMS_POLICY_MISMATCH/);
    assert.deepEqual(reached, ['GET /attestation']);
    const id = {
      kind: 'requester' as const,
      owner: chain.accounts[4]!.address.toLowerCase(),
      name: 'ratls-token',
    };
    assert.equal(await sms.store.hasSecret(id), false);
    r = await runCli(
      [
        'requester',
        'push-secret',
        'ratls-token',
        '--sms-mrenclave',
        IDENTITY.mrEnclave,
        '--sms-allow-simulation',
        '--json',
      ],
      { env: env(4), input: 'requester-secret-value' },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = JSON.parse(r.stdout) as {
      pushed: boolean;
      smsAttestation: { mrEnclave: string; simulated: boolean; pinSource: string };
    };
    assert.equal(j.smsAttestation.mrEnclave, IDENTITY.mrEnclave);
    assert.equal(j.smsAttestation.pinSource, 'options');
    assert.equal(await sms.store.hasSecret(id), true);
  });
});

async function operatorCert(): Promise<{ tlsCert: string; tlsKey: string }> {
  const { cert, key } = await generateSelfSignedCert(['127.0.0.1']);
  const dir = await fs.mkdtemp(join(sms.home, 'op-'));
  await fs.writeFile(join(dir, 'cert.pem'), cert);
  await fs.writeFile(join(dir, 'key.pem'), key, { mode: 0o600 });
  return { tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') };
}
