/**
 * Faults under load, on both stores: the SMS killed (-9) during 1,000 concurrent pushes, and (on
 * PostgreSQL) the database crash-restarted during releases. What was acknowledged is there and
 * opens; what was refused is not; a push cut short is wholly there or wholly absent (and can be
 * sent again as it was); releases fail with 503 SMS_STORE_UNAVAILABLE meanwhile and resume by
 * themselves. Every wait is on an event (a log line, a count, an answer), never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { openSimPlatform } from '../../src/attestation/index.js';
import { web2SecretChallenge, workerpoolAuthorizationHash } from '../../src/protocol/index.js';
import { createSealer, loadMasterKey, openStore, type SmsStore } from '../../src/sms/index.js';
import { secretAad, type SecretId } from '../../src/sms/store.js';
import type { SmsClient } from '../../src/sms-client/index.js';
import { startTestChain, testClients, type TestChain } from '../helpers/chain.js';
import { tempDir } from '../helpers/cli.js';
import { startTestSms } from '../helpers/sms.js';
import { startSmsProcess } from '../helpers/sms-process.js';
import { STORES, storeBytes, type StoreUnderTest } from '../helpers/stores.js';
import { sessionRequest, setupWorld, type World } from './fixtures.js';

/** Every pushed value starts with this: finding it on disk is finding a value in clear. */
const MARK = 'fault-secret-value-';

interface Push {
  id: SecretId;
  path: string;
  value: string;
  authorization: Hex;
  /** Signed over another value: the SMS must refuse it (401). */
  forged: boolean;
}

type Signer = ReturnType<ReturnType<typeof testClients>['role']>['account'];

/** A requester-secret push by `signer`, signed ahead; `forged`: signed over another value. */
async function makePush(signer: Signer, name: string, forged = false): Promise<Push> {
  const value = `${MARK}${randomBytes(16).toString('hex')}`;
  const signed = forged ? `${MARK}${randomBytes(16).toString('hex')}` : value;
  return {
    id: { kind: 'requester', owner: signer.address.toLowerCase(), name },
    path: `/requesters/${signer.address}/secrets/${name}`,
    value,
    authorization: await signer.signMessage({
      message: { raw: web2SecretChallenge(signer.address, name, signed) },
    }),
    forged,
  };
}

/** `n` pushes, one in ten forged (the load is the SMS's: all are signed before any is sent). */
const makePushes = (signer: Signer, n: number, tag: string): Promise<Push[]> =>
  Promise.all(Array.from({ length: n }, (_, i) => makePush(signer, `${tag}-${i}`, i % 10 === 9)));

type Outcome = { answered: number; code?: string } | { lost: string };

async function send(client: SmsClient, p: Push): Promise<Outcome> {
  try {
    const r = await client.request('POST', p.path, p.value, { Authorization: p.authorization });
    return { answered: r.status, ...(r.json?.error?.code ? { code: r.json.error.code } : {}) };
  } catch (e) {
    return { lost: (e as { code?: string }).code ?? String(e) };
  }
}

/** Run `jobs` with `lanes` in flight at once. */
async function inFlight<T>(lanes: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/**
 * Check the store behind the SMS's back: every push in `present` is there and opens, with the SMS's
 * own master key, to the value pushed; none of `absent` is there.
 */
async function checkStored(store: SmsStore, home: string, present: Push[], absent: Push[]): Promise<void> {
  const sealer = createSealer((await loadMasterKey(join(home, 'sms'))).key);
  for (const p of present) {
    const sealed = await store.getSecret(p.id);
    assert.ok(sealed, `acknowledged push ${p.id.name} is missing`);
    assert.equal(sealer.open(sealed, secretAad(p.id)).toString(), p.value, `${p.id.name} does not open`);
  }
  for (const p of absent)
    assert.equal(await store.getSecret(p.id), undefined, `refused push ${p.id.name} is stored`);
}

/** A push whose answer was lost: wholly there (resending it is 409) or wholly absent (resending stores it, 204). */
async function resendLost(client: SmsClient, lost: Push[]): Promise<{ good: Push[]; wereStored: number }> {
  const again = await inFlight(
    50,
    lost.map((p) => () => send(client, p)),
  );
  lost.forEach((p, i) => {
    const o = again[i]!;
    assert.ok('answered' in o, `resending ${p.id.name}: no answer (${JSON.stringify(o)})`);
    if (p.forged) assert.equal(o.answered, 401, `forged ${p.id.name} resent: ${JSON.stringify(o)}`);
    else
      assert.ok(
        o.answered === 204 || (o.answered === 409 && o.code === 'SECRET_EXISTS'),
        `${p.id.name} resent as it was: ${JSON.stringify(o)} (its signature used up without its value?)`,
      );
  });
  return {
    good: lost.filter((p) => !p.forged),
    wereStored: again.filter((o) => 'answered' in o && o.answered === 409).length,
  };
}

let chain: TestChain;
let world: World;
before(async () => {
  chain = await startTestChain();
  world = await setupWorld(chain);
});
after(async () => {
  await chain?.stop();
});

for (const store of STORES as StoreUnderTest[]) {
  // Skipped per test, not per describe: node 20 does not count a skipped describe in its summary.
  const skip = store.skip('SMS faults');
  describe(`SMS faults on ${store.kind}`, () => {
    it(
      'kill -9 during 1,000 concurrent pushes (200 in flight): acknowledged ones are there and open, refused ones are not, nothing is half-written or in clear',
      { skip },
      async () => {
        const t = tempDir('sealwork-sms-fault-');
        try {
          await chain.saveTo(t.dir);
          const db = await store.db();
          const requester = world.roles.requester.account;
          const pushes = await makePushes(requester, 1000, `k${store.kind}`);
          let sms = await startSmsProcess({ home: t.dir, chainUrl: chain.url, db });

          // 200 lanes; the SMS is killed the moment the 300th push is acknowledged.
          let acked = 0;
          let pending = 0;
          let inFlightAtKill = -1;
          let killed: Promise<void> | undefined;
          const outcomes = await inFlight(
            200,
            pushes.map((p) => async () => {
              pending++;
              const o = await send(sms.client, p);
              pending--;
              if ('answered' in o && o.answered === 204 && ++acked === 300) {
                inFlightAtKill = pending;
                killed = sms.kill9();
              }
              return o;
            }),
          );
          await killed;
          assert.ok(inFlightAtKill > 0, 'the SMS was killed with pushes in flight');
          const ackedPushes = pushes.filter((_, i) => {
            const o = outcomes[i]!;
            return 'answered' in o && o.answered === 204;
          });
          const refused = pushes.filter((_, i) => {
            const o = outcomes[i]!;
            return 'answered' in o && o.answered !== 204;
          });
          const lost = pushes.filter((_, i) => 'lost' in outcomes[i]!);
          assert.ok(ackedPushes.length >= 300);
          assert.ok(
            ackedPushes.every((p) => !p.forged),
            'a forged push was acknowledged',
          );
          for (const p of refused) {
            const o = outcomes[pushes.indexOf(p)] as { answered: number; code?: string };
            assert.ok(p.forged && o.answered === 401, `${p.id.name} refused: ${JSON.stringify(o)}`);
          }

          // Restart on the same home and database: every acknowledged push answers HEAD 204…
          sms = await startSmsProcess({ home: t.dir, chainUrl: chain.url, db });
          const heads = await inFlight(
            50,
            ackedPushes.map((p) => () => sms.client.request('HEAD', p.path)),
          );
          heads.forEach((h, i) => assert.equal(h.status, 204, `HEAD ${ackedPushes[i]!.id.name}`));
          // …and every push whose answer was lost can be sent again as it was.
          const resent = await resendLost(sms.client, lost);
          assert.equal(await sms.stop(), 0, sms.log());

          const direct = await openStore(db ?? join(t.dir, 'sms', 'sms.db'));
          try {
            await checkStored(
              direct,
              t.dir,
              [...ackedPushes, ...resent.good],
              [...refused, ...lost.filter((p) => p.forged)],
            );
          } finally {
            await direct.close();
          }
          const raw = await storeBytes(store.kind, join(t.dir, 'sms', 'sms.db'));
          assert.equal(
            raw.indexOf(Buffer.from(MARK)),
            -1,
            `a secret value in clear in the ${store.kind} files`,
          );
          console.log(
            `# ${store.kind}: ${ackedPushes.length} acknowledged, ${refused.length} refused, ${lost.length} unanswered at kill -9 (${inFlightAtKill} in flight; ${resent.wereStored} of them stored after all)`,
          );
        } finally {
          t.cleanup();
        }
      },
    );

    if (store.kind === 'postgres')
      it(
        'PostgreSQL crash-restarted during releases and pushes: 503 SMS_STORE_UNAVAILABLE meanwhile, then releases resume without restarting the SMS; nothing is half-written',
        { skip },
        async () => {
          const pg = await store.cluster();
          const sms = await startTestSms({ chain, db: await store.db() });
          try {
            const platform = await openSimPlatform(sms.home);
            const dealId = await world.deal({});
            const taskId = await world.initialize(dealId, 0);
            const challenge: Address = await sms.client.getEnclaveChallenge(
              world.roles.scheduler.account,
              taskId,
            );
            const release = async () => {
              const { req } = await sessionRequest({
                client: sms.client,
                platform,
                world,
                taskId,
                dealId,
                taskIndex: 0,
                challenge,
              });
              const r = await sms.client.request('POST', '/tee/sessions', JSON.stringify(req), {
                'content-type': 'application/json',
                Authorization: await world.roles.worker.account.signMessage({
                  message: { raw: workerpoolAuthorizationHash(req.authorization) },
                }),
              });
              return { status: r.status, code: r.json?.error?.code, message: r.json?.error?.message };
            };

            // Phases, each ended by an event: releases served; PostgreSQL down and seen as 503;
            // PostgreSQL back and releases served again.
            let phase: 'up' | 'down' | 'back' | 'done' = 'up';
            const seen = { up: 0, down503: 0, back: 0 };
            const failures: string[] = [];
            let wake: () => void = () => {};
            const changed = () => new Promise<void>((r) => (wake = r));
            const deadline = Date.now() + 120_000;
            const lanes = Array.from({ length: 2 }, async () => {
              while (phase !== 'done' && Date.now() < deadline) {
                const at = phase;
                const r = await release();
                if (r.status === 200) {
                  if (at === 'up') seen.up++;
                  if (at === 'back' && phase === 'back') seen.back++;
                } else if (
                  r.status === 503 &&
                  r.code === 'SMS_STORE_UNAVAILABLE' &&
                  /database cannot be reached right now/.test(String(r.message))
                ) {
                  if (at === 'down') seen.down503++;
                } else failures.push(`${at}: ${JSON.stringify(r)}`);
                wake();
              }
            });
            const until = async (cond: () => boolean, what: string) => {
              while (!cond()) {
                assert.ok(Date.now() < deadline, `timed out waiting for ${what}: ${JSON.stringify(seen)}`);
                await changed();
              }
            };
            await until(() => seen.up >= 4, 'releases before the restart');
            // Pushes (10 in flight) go on through the crash: PostgreSQL is killed at the 10th
            // acknowledged one, and they stop once 10 were refused while it is down.
            const pushed: { push: Push; o: Outcome }[] = [];
            let [acked, refusedDown] = [0, 0];
            let killing: Promise<void> | undefined;
            await Promise.all(
              Array.from({ length: 10 }, async () => {
                while (!(phase === 'down' && refusedDown >= 10) && Date.now() < deadline) {
                  const push = await makePush(
                    world.roles.requester.account,
                    `pg-${pushed.length}-${randomBytes(4).toString('hex')}`,
                  );
                  const o = await send(sms.client, push);
                  pushed.push({ push, o });
                  if ('answered' in o && o.answered === 204 && ++acked === 10)
                    killing = pg.kill().then(() => {
                      phase = 'down';
                    });
                  else if ('answered' in o && o.answered === 503 && phase === 'down') refusedDown++;
                }
              }),
            );
            await killing;
            for (const { o } of pushed)
              assert.ok(
                'answered' in o &&
                  (o.answered === 204 || (o.answered === 503 && o.code === 'SMS_STORE_UNAVAILABLE')),
                JSON.stringify(o),
              );
            await until(() => seen.down503 >= 4, 'releases refused 503 while PostgreSQL is down');
            await pg.start();
            phase = 'back';
            await until(() => seen.back >= 4, 'releases after PostgreSQL is back');
            phase = 'done';
            await Promise.all(lanes);
            assert.deepEqual(failures, [], 'every failure is a 503 SMS_STORE_UNAVAILABLE');

            // Nothing half-written: each push refused meanwhile is resent as it was (204, or 409
            // when it was stored after all), then all of them are there and open.
            const unanswered = pushed
              .filter(({ o }) => !('answered' in o && o.answered === 204))
              .map((p) => p.push);
            assert.ok(unanswered.length >= 10);
            const resent = await resendLost(sms.client, unanswered);
            await checkStored(
              sms.store,
              sms.home,
              pushed.map((p) => p.push),
              [],
            );
            // Every release answered 200 is in the audit log.
            const audit = await sms.store.listAudit({ taskId, limit: 10_000 });
            assert.ok(audit.filter((a) => a.verdict === 'released').length >= seen.up + seen.back);
            console.log(
              `# postgres restart: ${seen.up} releases before, ${seen.down503} answered 503 while down, ${seen.back} after; pushes: ${acked} acknowledged, ${unanswered.length} refused 503 (${resent.wereStored} of them stored after all)`,
            );
          } finally {
            await sms.stop();
          }
        },
      );
  });
}
