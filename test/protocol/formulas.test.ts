/**
 * The iExec protocol formulas (src/protocol), checked against iExec's definitions computed
 * independently of the code under test (which uses viem): the iexec SDK v9 itself where it exports
 * the formula (`IExecDealModule.computeTaskId`, `utils.encodeTag`), and ethers v6 for the others,
 * written as iExec writes them — the SDK's `concatenateAndHash` (common/sms/push.js) for the SMS
 * challenges, PoCo's `abi.encodePacked` (IexecPoco2Delegate: the authorization, resultHash,
 * resultSeal and the enclave message) with `solidityPackedKeccak256`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbiCoder,
  Wallet,
  concat,
  getBytes,
  keccak256 as ethersKeccak256,
  solidityPackedKeccak256,
  toUtf8Bytes,
} from 'ethers';
import { IExecConfig, IExecDealModule, utils as iexecUtils } from 'iexec';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  SMS_DOMAIN,
  teeChallengeRequestHash,
  web2SecretChallenge,
  web3SecretChallenge,
  workerpoolAuthorizationHash,
} from '../../src/protocol/index.js';

/** The iexec SDK's SMS challenge hashing (common/sms/push.js), with ethers as the SDK does. */
const DOMAIN_HASH = ethersKeccak256(toUtf8Bytes('IEXEC_SMS_DOMAIN'));
const sdkHash = (...hex: string[]) => ethersKeccak256(concat(hex.map((h) => getBytes(h))));
const utf8Hash = (s: string) => ethersKeccak256(toUtf8Bytes(s));
const sdkWeb3Challenge = (address: string, value: string) => sdkHash(DOMAIN_HASH, address, utf8Hash(value));
const sdkWeb2Challenge = (owner: string, name: string, value: string) =>
  sdkHash(DOMAIN_HASH, owner, utf8Hash(name), utf8Hash(value));
/** The real SDK's deal module, offline (computeTaskId needs no chain). */
const iexecDeals = IExecDealModule.fromConfig(new IExecConfig({ ethProvider: 'http://127.0.0.1:9' }));

describe('challenge formulas, computed with ethers as the iexec SDK does', () => {
  it('DOMAIN = keccak256("IEXEC_SMS_DOMAIN")', () => {
    assert.equal(SMS_DOMAIN, DOMAIN_HASH);
  });
  it('web3 and web2 challenges, for random addresses and values, whatever the address case', () => {
    for (let n = 0; n < 8; n++) {
      const a = privateKeyToAccount(generatePrivateKey()).address;
      const value = `secret-${n}-${generatePrivateKey()}-é✓`;
      const name = `name-${n}`;
      assert.equal(web3SecretChallenge(a, value), sdkWeb3Challenge(a, value));
      assert.equal(web3SecretChallenge(a.toLowerCase(), value), sdkWeb3Challenge(a, value));
      assert.equal(web2SecretChallenge(a, name, value), sdkWeb2Challenge(a, name, value));
    }
  });
  it('workerpool authorization = keccak256(abi.encodePacked(worker, taskid, enclaveChallenge)); challenge request = keccak256(taskId)', () => {
    for (let n = 0; n < 8; n++) {
      const w = privateKeyToAccount(generatePrivateKey()).address;
      const e = privateKeyToAccount(generatePrivateKey()).address;
      const t = generatePrivateKey(); // any 32 bytes
      assert.equal(
        workerpoolAuthorizationHash({ workerWallet: w, chainTaskId: t, enclaveChallenge: e }),
        solidityPackedKeccak256(['address', 'bytes32', 'address'], [w, t, e]),
      );
      assert.equal(teeChallengeRequestHash(t), ethersKeccak256(t));
    }
  });
});

describe('session JWE (ECDH-ES + A256GCM, built and opened with jose)', () => {
  for (const curve of ['X25519', 'P-256'] as const)
    it(`round-trips to a ${curve} enclave key, and no other key opens it`, async () => {
      const { encryptToEnclave, decryptSessionJwe, generateSessionKeyPair } =
        await import('../../src/protocol/index.js');
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

/**
 * Known values (regression anchors), each also recomputed here with the iexec SDK or ethers: the
 * constants cannot drift from iExec's definitions unnoticed.
 */
describe("the protocol formulas give iExec's values", () => {
  const deal = '0x01bec675748ec81757905bfe0049982ff2b3eb61b7e73992bce6fe67ac0cf116' as Hex; // keccak256("sealwork deal")
  const task = '0x2cd536dd3af2e7dfab1b7b7d35fc895b88710b0d2e18d9156cc792b3ea706be3' as Hex; // task 3 of it
  const worker = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as const;
  const enclave = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as const;
  const owner = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' as const;
  const digest = '0xbc1cd6d56655112208e52f734bab69c32764d6f7f631a3d3a4e66a31d4a66e10' as Hex; // keccak256("sealwork result")

  it('task id = keccak256(dealid ‖ uint256 index)', async () => {
    const { computeTaskId } = await import('../../src/protocol/index.js');
    assert.equal(await iexecDeals.computeTaskId(deal, 3), task, 'the iexec SDK gives the anchor');
    assert.equal(
      ethersKeccak256(AbiCoder.defaultAbiCoder().encode(['bytes32', 'uint256'], [deal, 0])),
      '0x7ad95e6633ae8dee7810d9160e83518f769a19dd92d7dd98f12ca6c449442c21',
    );
    assert.equal(computeTaskId(deal, 3), task);
    for (const i of [1, 2, 1000, 2 ** 40])
      assert.equal(computeTaskId(deal, i), await iexecDeals.computeTaskId(deal, i), `task ${i}`);
    assert.equal(computeTaskId(deal, 3n), task);
    assert.equal(
      computeTaskId(deal, 0),
      '0x7ad95e6633ae8dee7810d9160e83518f769a19dd92d7dd98f12ca6c449442c21',
    );
  });

  it('SMS domain and secret challenges', () => {
    assert.equal(DOMAIN_HASH, '0x0a26923d45a019b77e856d0001681f98ab9707ec15b2b98048cc91eed00b6793');
    assert.equal(
      sdkWeb3Challenge(owner, 'dataset-key'),
      '0x6a4d5685e740cc52d8993fb7447e0d091e467d5aded401719fbf983c1eddca73',
    );
    assert.equal(
      sdkWeb2Challenge(owner, 'my-secret', 'value'),
      '0x21ff1bff988af41a7b352c470e3ee57a52046b3b30a84cd6c7a23a77560b1f94',
    );
    assert.equal(SMS_DOMAIN, '0x0a26923d45a019b77e856d0001681f98ab9707ec15b2b98048cc91eed00b6793');
    assert.equal(
      web3SecretChallenge(owner, 'dataset-key'),
      '0x6a4d5685e740cc52d8993fb7447e0d091e467d5aded401719fbf983c1eddca73',
    );
    assert.equal(
      web2SecretChallenge(owner, 'my-secret', 'value'),
      '0x21ff1bff988af41a7b352c470e3ee57a52046b3b30a84cd6c7a23a77560b1f94',
    );
  });

  it('workerpool authorization, enclave challenge request, result hash, seal and enclave message', async () => {
    const p = await import('../../src/protocol/index.js');
    const auth = '0xf9e8c7ca4c55ebeb29a4d088f9b5727dd2fe0a9156ac01b59679310f1d41cac6';
    // PoCo (IexecPoco2Delegate.contribute): abi.encodePacked(worker, taskid, enclaveChallenge),
    // resultHash = keccak256(abi.encodePacked(taskid, digest)), resultSeal = keccak256(abi.encodePacked(worker,
    // taskid, digest)), the enclave signs keccak256(abi.encodePacked(resultHash, resultSeal)).
    const pocoHash = solidityPackedKeccak256(['bytes32', 'bytes32'], [task, digest]);
    const pocoSeal = solidityPackedKeccak256(['address', 'bytes32', 'bytes32'], [worker, task, digest]);
    assert.equal(solidityPackedKeccak256(['address', 'bytes32', 'address'], [worker, task, enclave]), auth);
    assert.equal(pocoHash, '0x0ac394c05d72767b3bd1ea2fce21054908b3a9df20bcc2e84df6cb6df25c7bd4');
    assert.equal(pocoSeal, '0xc55b5d2961335b0c1947acd5c315e4d77b5d4c7bfe463caa778e463d08af9662');
    assert.equal(
      solidityPackedKeccak256(['bytes32', 'bytes32'], [pocoHash, pocoSeal]),
      '0x47496204fa75753ad8635eea5efc607de2bb75ded39f08ece9681d4ee10e4f47',
    );
    assert.equal(ethersKeccak256(task), '0xf94484b29da7c09b0ac2775b6e1a0ab93e246c6aaabaa1254852fc97ec36667c');
    assert.equal(
      p.workerpoolAuthorizationHash({ workerWallet: worker, chainTaskId: task, enclaveChallenge: enclave }),
      auth,
    );
    assert.equal(p.authorizationMessage(worker, task, enclave), auth);
    assert.equal(
      p.workerpoolAuthorizationHash({
        workerWallet: worker.toLowerCase(),
        chainTaskId: task.toUpperCase().replace('0X', '0x') as Hex,
        enclaveChallenge: enclave.toLowerCase(),
      }),
      auth,
      'case does not matter',
    );
    assert.equal(
      p.teeChallengeRequestHash(task),
      '0xf94484b29da7c09b0ac2775b6e1a0ab93e246c6aaabaa1254852fc97ec36667c',
    );
    assert.equal(
      p.resultHash(task, digest),
      '0x0ac394c05d72767b3bd1ea2fce21054908b3a9df20bcc2e84df6cb6df25c7bd4',
    );
    assert.equal(
      p.resultSeal(worker, task, digest),
      '0xc55b5d2961335b0c1947acd5c315e4d77b5d4c7bfe463caa778e463d08af9662',
    );
    assert.equal(
      p.enclaveMessage(worker, task, digest),
      '0x47496204fa75753ad8635eea5efc607de2bb75ded39f08ece9681d4ee10e4f47',
    );
    // The signatures are EIP-191 over those 32 bytes (deterministic ECDSA: ethers gives the same bytes).
    const key = generatePrivateKey();
    const scheduler = privateKeyToAccount(key);
    const sig = await p.signAuthorization(scheduler, { worker, taskid: task, enclaveChallenge: enclave });
    assert.equal(sig, await new Wallet(key).signMessage(getBytes(auth)));
  });

  it('TEE tag: bit 0 (iexec encodeTag(["tee"]))', async () => {
    const { TAG_TEE, TAG_NONE, isTeeTag } = await import('../../src/protocol/index.js');
    assert.equal(TAG_TEE, iexecUtils.encodeTag(['tee']));
    assert.equal(TAG_NONE, iexecUtils.encodeTag([]));
    assert.equal(isTeeTag(iexecUtils.encodeTag(['tee', 'scone']) as Hex), true);
    assert.equal(TAG_TEE, '0x0000000000000000000000000000000000000000000000000000000000000001');
    assert.equal(isTeeTag(TAG_TEE), true);
    assert.equal(isTeeTag(TAG_NONE), false);
    assert.equal(isTeeTag(`0x${'0'.repeat(63)}3`), true);
    assert.equal(isTeeTag(`0x${'0'.repeat(63)}2`), false);
  });

  it('task statuses in PoCo order (TaskStatusEnum)', async () => {
    const { TASK_STATUSES, TaskStatus, taskStatusName } = await import('../../src/protocol/index.js');
    assert.deepEqual([...TASK_STATUSES], ['UNSET', 'ACTIVE', 'REVEALING', 'COMPLETED', 'FAILED']);
    assert.equal(TaskStatus.ACTIVE, 1);
    assert.equal(taskStatusName(3), 'COMPLETED');
    assert.equal(taskStatusName(4n), 'FAILED');
    assert.equal(taskStatusName(9), 'UNSET');
  });
});

describe('deal params', () => {
  it('encode as the iexec SDK does (empty keys left out) and parse back', async () => {
    const { encodeDealParams, parseDealParams } = await import('../../src/protocol/index.js');
    assert.equal(encodeDealParams({}), '{}');
    const text = encodeDealParams({
      args: '--x 1',
      secrets: { '1': 'api-key' },
      inputFiles: ['https://example.com/a.csv'],
      resultEncryption: true,
      storageProvider: 'ipfs',
    });
    // sealwork's own encrypted requests ask for the stronger wrap explicitly.
    assert.deepEqual(JSON.parse(text), {
      iexec_args: '--x 1',
      iexec_secrets: { '1': 'api-key' },
      iexec_input_files: ['https://example.com/a.csv'],
      iexec_result_encryption: true,
      iexec_result_storage_provider: 'ipfs',
      sealwork_result_key_format: 'oaep-sha256',
    });
    assert.deepEqual(parseDealParams(text), {
      args: '--x 1',
      secrets: { '1': 'api-key' },
      inputFiles: ['https://example.com/a.csv'],
      resultEncryption: true,
      resultKeyFormat: 'oaep-sha256',
      storageProvider: 'ipfs',
    });
    // Asking for the iExec wrap writes no sealwork key: the request is then exactly iExec's.
    const iexecStyle = encodeDealParams({ resultEncryption: true, resultKeyFormat: 'iexec' });
    assert.deepEqual(JSON.parse(iexecStyle), { iexec_result_encryption: true });
    assert.equal(parseDealParams(iexecStyle).resultKeyFormat, 'iexec');
    assert.deepEqual(parseDealParams('not json'), {
      args: '',
      secrets: {},
      inputFiles: [],
      resultEncryption: false,
      resultKeyFormat: 'iexec',
      storageProvider: '',
    });
    assert.equal(parseDealParams('{"iexec_result_encryption":"true"}').resultEncryption, true);
    assert.equal(parseDealParams('{"sealwork_result_key_format":"oaep"}').resultKeyFormat, 'oaep-sha256');
  });
});

describe('fingerprint and mrenclave JSON', () => {
  const mr = 'ab'.repeat(32);
  const key = 'cd'.repeat(32);
  const tag = 'ef'.repeat(16);
  it('one parser for the fingerprint, the mrenclave JSON and the app identity on chain', async () => {
    const { parseFingerprint, formatFingerprint, parseMrEnclave, parseAppMrEnclave } =
      await import('../../src/protocol/index.js');
    const fp = parseFingerprint(` 0x${mr.toUpperCase()}|${key}|0x${tag} `);
    assert.deepEqual(fp, { mrenclave: mr, fspfKey: key, fspfTag: tag });
    assert.equal(formatFingerprint(fp), `${mr}|${key}|${tag}`);
    assert.throws(() => parseFingerprint(`${mr}|${key}`), /FINGERPRINT_INVALID|3 parts/);
    const json = JSON.stringify({
      framework: 'SCONE',
      version: 'v5',
      entrypoint: 'node /app.js',
      heapSize: 1073741824,
      fingerprint: formatFingerprint(fp),
    });
    assert.equal(parseMrEnclave(json)?.framework, 'SCONE');
    assert.equal(parseMrEnclave(''), undefined);
    assert.equal(parseMrEnclave('[1]'), undefined);
    assert.deepEqual(parseAppMrEnclave(json), {
      ...fp,
      framework: 'SCONE',
      version: 'v5',
      entrypoint: 'node /app.js',
      heapSize: 1073741824,
    });
    assert.equal(parseAppMrEnclave('{"framework":"SCONE"}'), undefined);
    assert.equal(parseAppMrEnclave('{"fingerprint":"12|34|56"}'), undefined);
    assert.equal(parseAppMrEnclave('nope'), undefined);
  });
});
