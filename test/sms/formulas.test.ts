/** The iExec challenge formulas and the signature checks of the SMS. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacked, keccak256, stringToHex, toBytes, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  SMS_DOMAIN,
  isSignedBy,
  recoverChallengeSigner,
  teeChallengeRequestHash,
  web2SecretChallenge,
  web3SecretChallenge,
  workerpoolAuthorizationHash,
} from '../../src/sms/formulas.js';

describe('challenge formulas', () => {
  it('DOMAIN = keccak256("IEXEC_SMS_DOMAIN")', () => {
    assert.equal(SMS_DOMAIN, keccak256(toBytes('IEXEC_SMS_DOMAIN')));
  });
  it('web3 and web2 challenges are keccak256 over the packed parts, address case ignored', () => {
    const a = privateKeyToAccount(generatePrivateKey()).address;
    const expected3 = keccak256(
      encodePacked(['bytes32', 'address', 'bytes32'], [SMS_DOMAIN, a, keccak256(stringToHex('k'))]),
    );
    assert.equal(web3SecretChallenge(a, 'k'), expected3);
    assert.equal(web3SecretChallenge(a.toLowerCase(), 'k'), expected3);
    const expected2 = keccak256(
      encodePacked(
        ['bytes32', 'address', 'bytes32', 'bytes32'],
        [SMS_DOMAIN, a, keccak256(stringToHex('n')), keccak256(stringToHex('v'))],
      ),
    );
    assert.equal(web2SecretChallenge(a, 'n', 'v'), expected2);
    assert.notEqual(web2SecretChallenge(a, 'n', 'v2'), expected2);
  });
  it('workerpool authorization = keccak256(worker ‖ taskId ‖ enclaveChallenge); challenge request = keccak256(taskId)', () => {
    const w = privateKeyToAccount(generatePrivateKey()).address;
    const e = privateKeyToAccount(generatePrivateKey()).address;
    const t = keccak256('0x01') as Hex;
    assert.equal(
      workerpoolAuthorizationHash({ workerWallet: w, chainTaskId: t, enclaveChallenge: e }),
      keccak256(encodePacked(['address', 'bytes32', 'address'], [w, t, e])),
    );
    assert.equal(teeChallengeRequestHash(t), keccak256(t));
  });
});

describe('signature checks', () => {
  it('use libsecp256k1 where the npm package ships a prebuilt binding (linux-x64 here)', async (t) => {
    const { nativeSecp256k1 } = await import('../../src/sms/formulas.js');
    if (!(process.platform === 'linux' && process.arch === 'x64'))
      return t.skip('no prebuilt binding expected');
    assert.equal(nativeSecp256k1, true);
  });

  it('isSignedBy agrees with recovery (first call recovers, later calls verify against the cached key)', async () => {
    const owner = privateKeyToAccount(generatePrivateKey());
    const other = privateKeyToAccount(generatePrivateKey());
    for (let i = 0; i < 3; i++) {
      const h = keccak256(stringToHex(`m${i}`));
      const good = await owner.signMessage({ message: { raw: h } });
      const bad = await other.signMessage({ message: { raw: h } });
      assert.equal(await isSignedBy(h, good, owner.address), true);
      assert.equal(await recoverChallengeSigner(h, good), owner.address);
      assert.equal(await isSignedBy(h, bad, owner.address), false);
      assert.equal(await isSignedBy(keccak256(stringToHex('other')), good, owner.address), false);
      const flipped = `${good.slice(0, 10)}${good[10] === '0' ? '1' : '0'}${good.slice(11)}`;
      assert.equal(await isSignedBy(h, flipped, owner.address), false);
      assert.equal(await isSignedBy(h, '0x1234', owner.address), false);
      // The high-S twin of a valid signature (s' = n - s, v flipped) is valid for ecrecover too.
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      const s = BigInt(`0x${good.slice(66, 130)}`);
      const v = parseInt(good.slice(130), 16);
      const high = `${good.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}`;
      assert.equal(await recoverChallengeSigner(h, high), owner.address);
      assert.equal(await isSignedBy(h, high, owner.address), true);
    }
  });
});

describe('session JWE (ECDH-ES + A256GCM, built and opened with jose)', () => {
  for (const curve of ['X25519', 'P-256'] as const)
    it(`round-trips to a ${curve} enclave key, and no other key opens it`, async () => {
      const { encryptToEnclave, decryptSessionJwe, generateSessionKeyPair } =
        await import('../../src/sms/index.js');
      const key = generateSessionKeyPair(curve);
      const payload = { version: 1, secret: 'a value', n: [1, 2, 3] };
      const jwe = await encryptToEnclave(payload, key.publicJwk, '0xabc');
      const [h, ek, iv, ct, tag] = jwe.split('.');
      assert.equal(ek, '', 'direct key agreement: no encrypted key');
      assert.equal(Buffer.from(iv!, 'base64url').length, 12);
      assert.equal(Buffer.from(tag!, 'base64url').length, 16);
      assert.ok(!Buffer.from(ct!, 'base64url').toString('latin1').includes('a value'));
      const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, any>;
      assert.equal(header.alg, 'ECDH-ES');
      assert.equal(header.enc, 'A256GCM');
      assert.equal(header.kid, '0xabc');
      assert.equal(header.epk.crv, curve);
      assert.deepEqual(await decryptSessionJwe(jwe, key.privateKey), payload);
      await assert.rejects(
        decryptSessionJwe(jwe, generateSessionKeyPair(curve).privateKey),
        /does not decrypt/,
      );
    });
});
