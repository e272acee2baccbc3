/**
 * The chain CLI end to end on the embedded chain (start/stop/state), wallets, assets, orders,
 * deals. Each command is run once through the real CLI; repeated set-up steps call the same SDK
 * functions in-process to keep the run short.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address } from 'viem';
import {
  decryptKeystore,
  devAccount,
  encryptKeystore,
  freePort,
  type OrderKind,
} from '../../src/chain/index.js';
import {
  chainStatus,
  deployDataset,
  deployWorkerpool,
  fundAccount,
  importWallet,
  listMarket,
  publishOrderFile,
  showApp,
  signOrderToFile,
  startChain,
  deployApp,
} from '../../src/sdk/chain/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { startTestChain } from '../helpers/chain.js';

const MRENCLAVE =
  '{"framework":"SCONE","version":"v5","entrypoint":"node /app.js","heapSize":1073741824,"fingerprint":"f00d"}';
const CLEAN = {
  SEALWORK_CHAIN_URL: undefined,
  SEALWORK_PRIVATE_KEY: undefined,
  SEALWORK_WALLET_PASSWORD: undefined,
};

function rejectsCode(p: Promise<unknown>, code: string) {
  return assert.rejects(p, (e: any) => {
    assert.equal(e?.code, code, String(e));
    return true;
  });
}

describe('embedded chain through the CLI', () => {
  const { dir: home, cleanup } = tempDir();
  const env = { ...CLEAN, SEALWORK_HOME: home };
  const cli = async (args: string[], extra: Record<string, string | undefined> = {}) => {
    const r = await runCli(['--json', ...args], { env: { ...env, ...extra } });
    let json: any;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  };
  const ok = async (args: string[], extra?: Record<string, string | undefined>) => {
    const r = await cli(args, extra);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.json;
  };
  let port: number;
  const f = (n: string) => join(home, n);
  const sdk = (as: string) => ({ home, as });

  before(async () => {
    port = await freePort();
  });
  after(async () => {
    await runCli(['chain', 'stop'], { env });
    cleanup();
  });

  let app: string, dataset: string, pool: string, dealid: string;

  it('starts, deploys on first start, and registers assets with named dev accounts', async () => {
    const s = await ok(['chain', 'start', '--port', String(port)], {
      SEALWORK_WALLET_PASSWORD: 'marker-secret-123',
    });
    assert.equal(s.deployed, true);
    assert.equal(s.url, `http://127.0.0.1:${port}`);
    // The detached anvil does not inherit SEALWORK_* variables (no secret in a long-lived process).
    if (existsSync(`/proc/${s.pid}/environ`)) {
      const environ = readFileSync(`/proc/${s.pid}/environ`, 'utf8');
      assert.ok(environ.includes('PATH='), 'environ is readable');
      assert.ok(!environ.includes('SEALWORK_'), 'no SEALWORK_* variable in anvil');
    }
    const again = await startChain({ home, port });
    assert.equal(again.alreadyRunning, true);
    assert.equal(again.deployed, false);
    app = (
      await ok([
        'app',
        'deploy',
        '--as',
        'app-dev',
        '--name',
        'hello',
        '--image',
        'docker.io/me/hello:1',
        '--mrenclave',
        MRENCLAVE,
      ])
    ).address;
    dataset = (
      await ok([
        'dataset',
        'deploy',
        '--as',
        'dataset-owner',
        '--name',
        'd',
        '--url',
        'https://x/d.enc',
        '--checksum',
        `0x${'ab'.repeat(32)}`,
      ])
    ).address;
    pool = (await deployWorkerpool({ ...sdk('workerpool'), description: 'pool' })).address;
    const shown = await ok(['app', 'show', app]);
    assert.equal(shown.owner, devAccount(1).address);
    assert.equal(shown.multiaddr, 'docker.io/me/hello:1');
    assert.equal(shown.enclave.fingerprint, 'f00d');
    await rejectsCode(
      deployApp({ ...sdk('app-dev'), name: 'x', image: 'i', mrenclave: '{"framework":"SCONE"}' }),
      'APP_MRENCLAVE_INVALID',
    );
    await rejectsCode(deployWorkerpool({ home, description: 'p' }), 'WALLET_MISSING');
    await rejectsCode(
      deployDataset({ ...sdk('dataset-owner'), name: 'd', url: 'u', checksum: '0x12' }),
      'CHECKSUM_INVALID',
    );
  });

  it('refuses bad input before any transaction, naming what is wrong', async () => {
    // `order sign` refuses a signature the hub would reject: not the owner, not registered, not the requester.
    const sign = (as: string, kind: 'app' | 'workerpool' | 'request', fields: Record<string, string>) =>
      signOrderToFile({ ...sdk(as), kind, fields });
    await assert.rejects(sign('requester', 'app', { app }), (e: any) => {
      assert.equal(e.code, 'ORDER_SIGNER_NOT_OWNER');
      assert.match(e.message, new RegExp(`Only the owner ${devAccount(1).address} of app ${app}`));
      return true;
    });
    await rejectsCode(sign('workerpool', 'workerpool', { workerpool: app }), 'ASSET_NOT_REGISTERED');
    await rejectsCode(
      sign('app-dev', 'request', { app, requester: devAccount(4).address }),
      'ORDER_SIGNER_NOT_OWNER',
    );
    await rejectsCode(sign('app-dev', 'app', { app, volume: '0' }), 'ORDER_FIELD_INVALID');
    assert.equal((await sign('app-dev', 'app', { app })).signed.kind, 'app');
    // `order list` filters are validated instead of silently matching nothing.
    await rejectsCode(listMarket({ home, kind: 'bogus' as string as OrderKind }), 'ORDER_KIND_INVALID');
    await rejectsCode(listMarket({ home, app: '0x12' }), 'ADDRESS_INVALID');
    await rejectsCode(
      showApp({ home, chainUrl: 'localhost:8545', address: app as Address }),
      'CHAIN_URL_INVALID',
    );
    // Numbers given on the command line.
    const badPort = await cli(['chain', 'start', '--port', 'abc']);
    assert.equal(badPort.json.error.code, 'CHAIN_PORT_INVALID');
    await rejectsCode(
      fundAccount({ home, address: devAccount(9).address, eth: Number('x') }),
      'AMOUNT_INVALID',
    );
    assert.equal(
      (await fundAccount({ home, address: devAccount(9).address, eth: 0.5 })).balance,
      5n * 10n ** 17n,
    );
  });

  it('signs, publishes, lists, matches and shows deals and tasks; decodes refusals', async () => {
    await ok([
      'order',
      'sign',
      'app',
      '--as',
      'app-dev',
      '--app',
      app,
      '--volume',
      '5',
      '--tag',
      'tee',
      '--out',
      f('app.json'),
    ]);
    const sign = (
      kind: 'dataset' | 'workerpool' | 'request',
      as: string,
      fields: Record<string, string>,
      out: string,
    ) => signOrderToFile({ ...sdk(as), kind, fields, out: f(out) });
    await sign('dataset', 'dataset-owner', { dataset, appRestrict: app }, 'ds.json');
    await sign('workerpool', 'workerpool', { workerpool: pool, tag: 'tee', volume: '5' }, 'wp.json');
    await sign(
      'request',
      'requester',
      { app, dataset, workerpool: pool, tag: 'tee', params: '{"iexec_args":"a b"}' },
      'rq.json',
    );
    // Order files list the fields in the PoCo struct order, then the signature.
    const rq = JSON.parse(readFileSync(f('rq.json'), 'utf8'));
    assert.deepEqual(Object.keys(rq.order).slice(0, 3), ['app', 'appmaxprice', 'dataset']);
    assert.equal(Object.keys(rq.order).at(-1), 'sign');
    assert.equal(rq.order.requester, devAccount(4).address);
    const pub = await ok(['order', 'publish', '--as', 'app-dev', f('app.json')]);
    const listed = await ok(['order', 'list', '--app', app]);
    assert.ok(
      listed.some((o: any) => o.orderHash === pub.orderHash && o.kind === 'app' && o.remaining === '5'),
    );
    const match = [
      'deal',
      'match',
      '--as',
      'requester',
      '--app-order',
      f('app.json'),
      '--dataset-order',
      f('ds.json'),
      '--workerpool-order',
      f('wp.json'),
    ];
    const m = await ok([...match, '--request-order', f('rq.json')]);
    dealid = m.dealid;
    assert.equal(m.volume, '1');
    const d = await ok(['deal', 'show', dealid]);
    assert.equal(d.app.pointer, app);
    assert.equal(d.params, '{"iexec_args":"a b"}');
    assert.equal(d.tasks[0].taskid, m.taskids[0]);
    assert.equal(d.tasks[0].status, 'UNSET');
    const t = await ok(['task', 'show', m.taskids[0]]);
    assert.equal(t.statusName, 'UNSET');
    // A refusal reads as one sentence on stderr (here: the request is fully consumed).
    const r = await runCli([...match, '--request-order', f('rq.json')], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ORDER_CONSUMED\]: The request order 0x[0-9a-f]{64} has no volume left/);
    // An order file signed for another hub is refused before any transaction.
    const moved = JSON.parse(readFileSync(f('app.json'), 'utf8'));
    moved.hub = devAccount(9).address;
    writeFileSync(f('moved.json'), JSON.stringify(moved));
    await rejectsCode(publishOrderFile({ ...sdk('app-dev'), file: f('moved.json') }), 'ORDER_WRONG_CHAIN');
    // Cancelled orders disappear from the market.
    const c = await ok(['order', 'cancel', '--as', 'app-dev', f('app.json')]);
    assert.equal(c.orderHash, pub.orderHash);
    const after = await cli(['order', 'list', '--app', app]);
    assert.ok(!after.json.some((o: any) => o.orderHash === pub.orderHash));
  });

  it('keeps its state across chain stop / chain start', async () => {
    assert.equal((await ok(['chain', 'stop'])).stopped, true);
    await rejectsCode(showApp({ home, address: app as `0x${string}` }), 'CHAIN_UNREACHABLE');
    assert.equal((await ok(['chain', 'status'])).reachable, false);
    const s = await ok(['chain', 'start', '--port', String(port)]);
    assert.equal(s.deployed, false);
    assert.equal((await showApp({ home, address: app as `0x${string}` })).name, 'hello');
    const st = await chainStatus({ home });
    assert.equal(st.reachable, true);
    assert.equal(st.deployment?.hub, s.deployment.hub);
    const { showDeal } = await import('../../src/sdk/chain/index.js');
    assert.equal((await showDeal({ home, dealid })).requester, devAccount(4).address);
    const capped = await showDeal({ home, dealid, maxTasks: 0 });
    assert.equal(capped.tasks.length, 0, 'task listing is capped');
    assert.equal(capped.botSize, 1n);
    assert.ok((await listMarket({ home, app: app as `0x${string}`, all: true })).length >= 1);
  });

  it('uses an encrypted wallet (create, show, wrong password, sign with it)', async () => {
    const pw = { SEALWORK_WALLET_PASSWORD: 'correct horse battery' };
    const w = await ok(['wallet', 'create'], pw);
    assert.match(w.address, /^0x[0-9a-fA-F]{40}$/);
    assert.equal((await ok(['wallet', 'show'])).address, w.address);
    await rejectsCode(
      signOrderToFile({ home, password: 'nope nope nope', kind: 'request', fields: { app } }),
      'WALLET_PASSWORD_WRONG',
    );
    const poor = await cli(['workerpool', 'deploy', '--description', 'mine'], pw);
    assert.equal(poor.json.error.code, 'WALLET_INSUFFICIENT_FUNDS');
    await ok(['chain', 'fund', w.address, '--eth', '5']);
    const mine = await deployWorkerpool({ home, password: pw.SEALWORK_WALLET_PASSWORD, description: 'mine' });
    assert.equal(mine.owner, w.address);
    const signed = await signOrderToFile({
      home,
      password: pw.SEALWORK_WALLET_PASSWORD,
      kind: 'request',
      fields: { app },
    });
    assert.equal((signed.signed.order as { requester: string }).requester, w.address);
    await rejectsCode(
      importWallet({ home, privateKey: devAccount(7).privateKey, password: 'abcdefgh' }),
      'OUTPUT_EXISTS',
    );
    const imp = await importWallet({
      home,
      privateKey: devAccount(7).privateKey,
      password: 'abcdefgh',
      force: true,
      scryptN: 1024,
    });
    assert.equal(imp.address, devAccount(7).address);
  });
});

describe('chain deploy on any JSON-RPC endpoint', () => {
  it('deploys with SEALWORK_PRIVATE_KEY and records the deployment for that URL', async () => {
    const chain = await startTestChain();
    const { dir: home, cleanup } = tempDir();
    try {
      assert.equal((await chainStatus({ home, chainUrl: chain.url })).deployment, undefined);
      const env = {
        ...CLEAN,
        SEALWORK_HOME: home,
        SEALWORK_CHAIN_URL: chain.url,
        SEALWORK_PRIVATE_KEY: chain.accounts[8]!.privateKey,
      };
      const r = await runCli(['--json', 'chain', 'deploy'], { env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = JSON.parse(r.stdout);
      assert.equal(d.deployer, chain.accounts[8]!.address);
      assert.notEqual(d.hub.toLowerCase(), chain.deployment.hub.toLowerCase());
      assert.equal((await chainStatus({ home, chainUrl: chain.url })).deployment?.hub, d.hub);
      const p = await deployWorkerpool({
        home,
        chainUrl: chain.url,
        privateKey: chain.accounts[8]!.privateKey,
        description: 'x',
      });
      assert.equal(p.owner, chain.accounts[8]!.address);
    } finally {
      cleanup();
      await chain.stop();
    }
  });
});

describe('V3 keystores interoperate with ethers', () => {
  it('ethers decrypts ours and we decrypt ethers’, and a wrong password is refused', async () => {
    const { Wallet, encryptKeystoreJsonSync } = await import('ethers');
    const pk = devAccount(3).privateKey;
    const ours = await encryptKeystore(pk, 'pw-12345678', { n: 1024 });
    const w = await Wallet.fromEncryptedJson(JSON.stringify(ours), 'pw-12345678');
    assert.equal(w.privateKey, pk);
    const theirs = encryptKeystoreJsonSync({ address: devAccount(3).address, privateKey: pk }, 'other-pass', {
      scrypt: { N: 1024 },
    });
    assert.equal(await decryptKeystore(JSON.parse(theirs), 'other-pass'), pk);
    await assert.rejects(decryptKeystore(JSON.parse(theirs), 'wrong'), { code: 'WALLET_PASSWORD_WRONG' });
  });
});
