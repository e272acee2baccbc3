/** The signature checks of the SMS (src/sms/signature.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keccak256, stringToHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { isSignedBy, recoverChallengeSigner } from '../../src/sms/signature.js';

describe('signature checks', () => {
  it('use libsecp256k1 where the npm package ships a prebuilt binding (linux-x64 here)', async (t) => {
    const { nativeSecp256k1 } = await import('../../src/sms/signature.js');
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
