/**
 * The SMS measurement (`sealwork sms measure`, measureSms): deterministic across processes, and
 * changed by any change of its code or configuration; MRSIGNER names the signing key; the
 * SIGSTRUCT binds MRENCLAVE, ISVPRODID and ISVSVN.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { enclaveConfig, resolveSmsPolicy } from '../../src/sms/enclave/config.js';
import { identityOf, type SmsEnclaveConfig } from '../../src/sms/enclave/identity.js';
import { measureSms } from '../../src/sms/enclave/measure.js';
import { checkSigStruct, mrSignerOf } from '../../src/sms/enclave/signer.js';
import { isSealworkError } from '../../src/errors.js';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

const HUB = '0x1111111111111111111111111111111111111111';

describe('SMS measurement', () => {
  let t: ReturnType<typeof tempDir>;
  let config: SmsEnclaveConfig;
  before(async () => {
    t = tempDir('sealwork-smsmeasure-');
    config = enclaveConfig({
      policy: await resolveSmsPolicy({ allowSimulation: true }),
      chainId: 31337,
      hub: HUB,
      db: join(t.dir, 'sms.db'),
      tls: 'generated',
    });
  });
  after(() => t.cleanup());

  it('`sms measure` in another process prints the value measureSms computes here', async () => {
    const here = await measureSms({ home: t.dir, config });
    const r = await runCli(
      ['sms', 'measure', '--json', '--chain-id', '31337', '--hub', HUB, '--allow-simulation'],
      { env: { SEALWORK_HOME: t.dir } },
    );
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as typeof here;
    assert.match(here.mrEnclave, /^[0-9a-f]{64}$/);
    assert.deepEqual(identityOf(printed), identityOf(here));
    assert.deepEqual(printed.manifest, here.manifest);
    assert.equal(here.manifest.runtime.node.version, process.version);
    assert.ok(here.manifest.code.packages.some((p) => p.name === 'better-sqlite3'));
  });

  it('any change of configuration changes MRENCLAVE, not MRSIGNER', async () => {
    const base = await measureSms({ home: t.dir, config });
    const variants: SmsEnclaveConfig[] = [
      { ...config, policy: { ...config.policy, allowSimulation: false } },
      { ...config, db: 'postgres' },
      { ...config, chainId: 1 },
      { ...config, hub: '0x2222222222222222222222222222222222222222' },
      { ...config, sealPolicy: 'mrenclave' },
      { ...config, tls: 'operator' },
    ];
    const seen = new Set([base.mrEnclave]);
    for (const v of variants) {
      const m = await measureSms({ home: t.dir, config: v });
      assert.equal(m.mrSigner, base.mrSigner);
      assert.ok(!seen.has(m.mrEnclave), `config ${JSON.stringify(v)} did not change MRENCLAVE`);
      seen.add(m.mrEnclave);
    }
  });

  it('a change of one line of SMS code changes MRENCLAVE', async () => {
    // A copy of the checkout's sources (node_modules shared), one SMS source line changed.
    const root = join(t.dir, 'checkout');
    cpSync(join(ROOT, 'src'), join(root, 'src'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const same = await measureSms({ home: t.dir, config, root });
    const base = await measureSms({ home: t.dir, config });
    assert.equal(same.mrEnclave, base.mrEnclave, 'the same sources in another folder measure the same');
    const file = join(root, 'src', 'sms', 'nonces.ts');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nprocess.title = 'changed';\n`);
    const changed = await measureSms({ home: t.dir, config, root });
    assert.notEqual(changed.manifest.code.bundle.sha256, base.manifest.code.bundle.sha256);
    assert.notEqual(changed.mrEnclave, base.mrEnclave);
  });

  it('MRSIGNER is the hash of the signing key; the SIGSTRUCT binds ISVSVN', async () => {
    const keyFile = join(t.dir, 'release.key');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const dev = await measureSms({ home: t.dir, config });
    const rel = await measureSms({ home: t.dir, config, signingKey: keyFile, isvSvn: 7 });
    assert.equal(rel.mrEnclave, dev.mrEnclave);
    assert.equal(rel.mrSigner, mrSignerOf(publicKey));
    assert.notEqual(rel.mrSigner, dev.mrSigner);
    assert.equal(rel.isvSvn, 7);
    checkSigStruct(rel, rel.sigStruct);
    assert.throws(
      () => checkSigStruct({ ...rel, isvSvn: 8 }, rel.sigStruct),
      (e) => isSealworkError(e) && e.code === 'SMS_SIGSTRUCT_INVALID',
    );
    await assert.rejects(
      measureSms({ home: t.dir, config, signingKey: join(t.dir, 'missing.key') }),
      (e) => isSealworkError(e) && e.code === 'SMS_SIGNING_KEY_INVALID',
    );
  });
});
