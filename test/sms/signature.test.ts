/**
 * The signature checks of the SMS (src/sms/signature.ts): the SMS accepts exactly what the chain
 * accepts (the hub's `SignatureChecker`, OpenZeppelin's ECDSA): low-S only, v 27 or 28.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashMessage, keccak256, stringToHex, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { hubAbi } from '../../src/chain/index.js';
import { chainSignature, isSignedBy, recoverChallengeSigner } from '../../src/sms/signature.js';
import { startTestChain, testClients, type TestChain } from '../helpers/chain.js';
import { highSTwin, withV } from './fixtures.js';

describe('signature checks', () => {
  it('use libsecp256k1 where the npm package ships a prebuilt binding (linux-x64 here)', async (t) => {
    const { nativeSecp256k1 } = await import('../../src/sms/signature.js');
    if (!(process.platform === 'linux' && process.arch === 'x64'))
      return t.skip('no prebuilt binding expected');
    assert.equal(nativeSecp256k1, true);
  });

  it('isSignedBy agrees with recovery, and refuses high-S twins and any v but the right 27/28', async () => {
    const owner = privateKeyToAccount(generatePrivateKey());
    const other = privateKeyToAccount(generatePrivateKey());
    for (let i = 0; i < 3; i++) {
      const h = keccak256(stringToHex(`m${i}`));
      const good = await owner.signMessage({ message: { raw: h } });
      const bad = await other.signMessage({ message: { raw: h } });
      assert.equal(await isSignedBy(h, good, owner.address), true);
      assert.equal(await recoverChallengeSigner(h, good), owner.address);
      assert.equal(await isSignedBy(h, ` ${good.toUpperCase().replace('0X', '0x')} `, owner.address), true);
      assert.equal(await isSignedBy(h, bad, owner.address), false);
      assert.equal(await isSignedBy(keccak256(stringToHex('other')), good, owner.address), false);
      const flipped = `${good.slice(0, 10)}${good[10] === '0' ? '1' : '0'}${good.slice(11)}`;
      assert.equal(await isSignedBy(h, flipped, owner.address), false);
      assert.equal(await isSignedBy(h, '0x1234', owner.address), false);
      // The high-S twin (s' = n - s, v flipped) recovers the same signer with ecrecover, but
      // OpenZeppelin's ECDSA refuses it: so does the SMS, on first sight and once the key is known.
      const high = highSTwin(good);
      assert.equal(await recoverChallengeSigner(h, high), undefined);
      assert.equal(await isSignedBy(h, high, owner.address), false);
      // v: only 27/28, and the right one (ecrecover with another v recovers another address, or none).
      const v = parseInt(good.slice(130), 16);
      for (const w of [v - 27, 55 - v, 0, 1, 29, 35, 255]) {
        assert.equal(await isSignedBy(h, withV(good, w), owner.address), false, `v = ${w}`);
        assert.equal((await recoverChallengeSigner(h, withV(good, w))) === owner.address, false, `v = ${w}`);
      }
    }
  });

  it('parses only 65-byte r ‖ s ‖ v with 0 < r < n, 0 < s ≤ n/2, v ∈ {27, 28}', () => {
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const sig = (r: bigint, s: bigint, v: number) =>
      `0x${r.toString(16).padStart(64, '0')}${s.toString(16).padStart(64, '0')}${v.toString(16).padStart(2, '0')}`;
    assert.ok(chainSignature(sig(1n, n / 2n, 27)));
    assert.equal(chainSignature(sig(1n, n / 2n + 1n, 27)), undefined);
    assert.equal(chainSignature(sig(0n, 1n, 27)), undefined);
    assert.equal(chainSignature(sig(n, 1n, 28)), undefined);
    assert.equal(chainSignature(sig(1n, 0n, 28)), undefined);
    assert.equal(chainSignature(sig(1n, 1n, 1)), undefined);
    assert.equal(chainSignature(`${sig(1n, 1n, 27)}00`), undefined);
  });
});

describe('the SMS and the chain agree (hub.verifySignature, OpenZeppelin SignatureChecker)', () => {
  let chain: TestChain;
  before(async () => {
    chain = await startTestChain();
  });
  after(async () => {
    await chain?.stop();
  });

  it('on a valid signature, its high-S twin, and every other v', async () => {
    const { publicClient } = testClients(chain);
    const onChain = (signer: Address, h: Hex, s: Hex) =>
      publicClient.readContract({
        address: chain.deployment.hub,
        abi: hubAbi,
        functionName: 'verifySignature',
        args: [signer, hashMessage({ raw: h }), s],
      });
    const owner = privateKeyToAccount(generatePrivateKey());
    const h = keccak256(stringToHex('authorization'));
    const good = await owner.signMessage({ message: { raw: h } });
    const v = parseInt(good.slice(130), 16);
    const cases: [string, Hex][] = [
      ['valid', good],
      ['high-S twin', highSTwin(good)],
      ...[v - 27, 55 - v, 0, 1, 29].map((w): [string, Hex] => [`v = ${w}`, withV(good, w)]),
    ];
    for (const [what, s] of cases) {
      const chainSays = await onChain(owner.address, h, s);
      assert.equal(await isSignedBy(h, s, owner.address), chainSays, what);
      assert.equal(chainSays, what === 'valid', what);
    }
  });
});
