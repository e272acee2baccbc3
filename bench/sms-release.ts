/**
 * bench/sms-release: N concurrent simulated enclaves request attested sessions for ACTIVE tasks.
 *
 * Phase 1 (end to end): `sealwork sms start` runs as its own process (attested TLS — RA-TLS —,
 * SQLite, real anvil); this process plays the enclaves and, like every sealwork client, checks the
 * SMS before it sends (quote, its binding to the connection's key, the pinned MrEnclave): the
 * check is made once per new TLS key and cached in the keep-alive agent. Requests are prepared beforehand (nonce, session key, simulated
 * quote binding them), then sent with 50 and 200 in flight; prints releases/s and p50/p99 latency.
 * Phase 2 (where the time goes): the same release service in-process, without HTTP, summing the
 * time spent in each step (chain reads, signature recovery, quote verification, secrets, JWE,
 * audit commit).
 *
 * Usage: node --import tsx bench/sms-release.ts [requests per level, default 2000]
 * Immutable chain data (app fingerprint, deal, dataset) is cached; task status is read every time.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Address, Hex } from 'viem';
import { collateralToJson, openSimPlatform, type SimPlatform } from '../src/attestation/index.js';
import { silentLogger } from '../src/sms/index.js';
import {
  generateSessionKeyPair,
  sessionReportData,
  workerpoolAuthorizationHash,
  type SessionRequest,
} from '../src/protocol/index.js';
import {
  AttestedSmsAgent,
  createSmsClient as smsClient,
  resolveSmsPin,
  type SmsAttestOptions,
  type SmsClient,
} from '../src/sms-client/index.js';
import { startTestChain } from '../test/helpers/chain.js';
import { CLI_ENTRY, ROOT, tempDir } from '../test/helpers/cli.js';
import { startTestSms } from '../test/helpers/sms.js';
import { setupWorld, type World } from '../test/sms/fixtures.js';
import { yardstick } from './yardstick.js';

const N = Number(process.argv[2] ?? 2000);
const LEVELS = [50, 200];
/** Open-loop arrival rates (requests/s), at most 200 in flight. */
const RATES = (process.env.SMS_BENCH_RATES ?? '250,500,1000').split(',').filter(Boolean).map(Number);
/** SMS processes (`sms start --workers`). */
const WORKERS = (process.env.SMS_BENCH_WORKERS ?? '1,2').split(',').filter(Boolean).map(Number);
const TASKS = 20;

interface Prepared {
  body: string;
  req: SessionRequest;
  /** The worker's signature of the authorization hash (the `Authorization` header). */
  auth: Hex;
}

async function prepare(
  client: SmsClient,
  platform: SimPlatform,
  world: World,
  tasks: { taskId: Hex; index: number; challenge: Address; signature: Hex }[],
  dealId: Hex,
  n: number,
): Promise<Prepared[]> {
  const out: Prepared[] = [];
  const worker = world.roles.worker.account.address;
  for (let i = 0; i < n; i++) {
    const t = tasks[i % tasks.length]!;
    const { nonce } = await client.getNonce();
    const key = generateSessionKeyPair();
    const q = platform.quoteSync({
      mrenclave: world.fingerprint.mrenclave,
      reportData: sessionReportData(key.publicJwk, nonce),
    });
    const req: SessionRequest = {
      authorization: {
        chainTaskId: t.taskId,
        dealId,
        taskIndex: t.index,
        workerWallet: worker,
        enclaveChallenge: t.challenge,
        signature: t.signature,
      },
      quote: `0x${Buffer.from(q.quote).toString('hex')}`,
      collateral: collateralToJson(q.collateral),
      publicKey: key.publicJwk,
      nonce,
    };
    const auth = await world.roles.worker.account.signMessage({
      message: { raw: workerpoolAuthorizationHash(req.authorization) },
    });
    out.push({ req, body: JSON.stringify(req), auth });
  }
  return out;
}

async function run(
  n: number,
  concurrency: number,
  one: (i: number) => Promise<void>,
): Promise<{ perSec: number; p50: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        try {
          await one(i);
          lat.push(performance.now() - t);
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { perSec: lat.length / secs, p50: q(0.5), p99: q(0.99), errors };
}

/**
 * Open loop: request i is due at t0 + i/rate whatever happened before (at most `cap` in flight; a
 * request that has to wait for a slot counts that wait in its latency, so a service that falls
 * behind shows it in p99 instead of hiding it by slowing the arrivals).
 */
async function runOpen(
  n: number,
  rate: number,
  cap: number,
  one: (i: number) => Promise<void>,
): Promise<{ perSec: number; p50: number; p99: number; errors: number; maxInFlight: number }> {
  const lat: number[] = [];
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const waiting: (() => void)[] = [];
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    all.push(
      (async () => {
        if (inFlight >= cap) await new Promise<void>((r) => waiting.push(r));
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await one(i);
          lat.push(performance.now() - due);
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
        } finally {
          inFlight--;
          waiting.shift()?.();
        }
      })(),
    );
  }
  await Promise.all(all);
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { perSec: lat.length / secs, p50: q(0.5), p99: q(0.99), errors, maxInFlight };
}

const fmt = (x: number) => x.toFixed(1).padStart(7);
/** The first failure of a load level (printed under its row). */
let firstError: string | undefined;

/** A machine yardstick: what this CPU does of a comparable unit of work (openssl speed). */
/** [ppid, CPU ms (user + system)] of a process, from /proc (Linux). */
function procStat(pid: number): [number, number] | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [Number(f[1]), ((Number(f[11]) + Number(f[12])) * 1000) / 100]; // ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** CPU ms used so far by a process and its direct children (the SMS workers); NaN off Linux. */
function cpuMsOfTree(pid: number): number {
  const own = procStat(pid);
  if (!own) return NaN;
  let total = own[1];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(Number(d));
    if (st && st[0] === pid) total += st[1];
  }
  return total;
}

/** pid of the anvil this process started (a direct child named anvil). */
function anvilPid(): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (
        readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'anvil' &&
        procStat(Number(d))?.[0] === process.pid
      )
        return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

async function main() {
  console.log(
    `sms-release bench: ${N} sessions per level, ${TASKS} ACTIVE tasks, ${cpus().length} CPUs, node ${process.version}`,
  );
  const chain = await startTestChain();
  const world = await setupWorld(chain);
  const t = tempDir('sealwork-bench-sms-');
  const home = t.dir;
  await chain.saveTo(home);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    // --- the SMS as its own process(es): `sealwork sms start [--workers W]`
    const profile = process.env.SMS_BENCH_PROFILE_DIR; // set to write a CPU profile of the SMS process
    const rec = join(home, 'sms', 'sms.json');
    const startSms = async (workers: number) => {
      const c = spawn(
        process.execPath,
        [
          ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
          '--import',
          'tsx',
          CLI_ENTRY,
          'sms',
          'start',
          '--port',
          '0',
          '--allow-simulation',
          '--log-level',
          'warn',
          '--workers',
          String(workers),
        ],
        {
          cwd: ROOT,
          env: { ...process.env, SEALWORK_HOME: home, SEALWORK_CHAIN_URL: chain.url },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      const end = Date.now() + 60_000;
      while (!existsSync(rec)) {
        if (Date.now() > end) throw new Error('sms start did not come up');
        await new Promise((r) => setTimeout(r, 50));
      }
      const { url } = JSON.parse(readFileSync(rec, 'utf8')) as { url: string };
      // The pin: the SMS's own record (trust on first use, as `sealwork dev` clients do).
      return { child: c, url, attest: await resolveSmsPin({ home, url }) };
    };
    const stopSms = async (c: ReturnType<typeof spawn>) => {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    };
    let s1 = await startSms(1);
    child = s1.child;
    const client = smsClient(s1.url, { attest: s1.attest });
    const platform = await openSimPlatform(home);

    // --- chain state: a TEE deal with a dataset and a requester secret, TASKS initialized tasks
    await client.pushDatasetSecret(
      world.roles.datasetOwner.account,
      world.dataset,
      randomBytes(32).toString('base64'),
    );
    await client.pushRequesterSecret(world.roles.requester.account, 'token', 'bench-secret');
    await client.pushAppSecret(world.roles.appDev.account, world.app, 'bench-app-secret');
    const dealId = await world.deal({
      withDataset: true,
      volume: TASKS,
      params: { iexec_args: 'bench', iexec_secrets: { '1': 'token' } },
    });
    const tasks = [];
    for (let i = 0; i < TASKS; i++) {
      const taskId = await world.initialize(dealId, i);
      const challenge = await client.getEnclaveChallenge(world.roles.scheduler.account, taskId);
      tasks.push({ taskId, index: i, challenge, signature: await world.authorize(taskId, challenge) });
    }

    const verdict = await client.verify();
    console.log(
      `SMS attested: MrEnclave ${verdict?.mrEnclave}, TCB ${verdict?.tcbStatus}${verdict?.simulated ? ', SIMULATED platform' : ''} (pin: ${s1.attest.pinSource})`,
    );
    console.log(`machine yardstick: ${yardstick()}`);
    console.log('\nphase 1 — end to end over attested TLS (`sms start`, SQLite WAL synchronous=FULL, anvil)');
    console.log(
      '  closed loop "N in flight": N clients, each sends its next request as soon as the last is answered,',
    );
    console.log('  so latency = N / throughput (Little). Open loop "R/s": requests due at a fixed rate R,');
    console.log('  at most 200 in flight, latency counted from the due time (a backlog shows in p99).');
    console.log('  CPU columns: milliseconds of CPU per release used by the SMS, by anvil, by this client.');
    console.log(
      'procs   load           releases/s    p50 ms    p99 ms   errors   SMS CPU   anvil CPU   client CPU   SMS checks',
    );
    console.log(
      '  SMS checks: evidence fetched and verified by the load generator (once per new SMS key; other connections check the key only).',
    );
    const anvil = anvilPid();
    const modes: { label: string; inFlight: number; rate?: number }[] = [
      ...LEVELS.map((c) => ({ label: `${c} in flight`, inFlight: c })),
      ...RATES.map((rate) => ({ label: `${rate}/s`, inFlight: 200, rate })),
    ];
    for (const workers of WORKERS) {
      if (workers !== 1) {
        await stopSms(child);
        s1 = await startSms(workers);
        child = s1.child;
      }
      const smsc = smsClient(s1.url, { attest: s1.attest });
      for (const m of modes) {
        const c = m.inFlight;
        const prepared = await prepare(smsc, platform, world, tasks, dealId, N + c);
        // Every connection checked before it carries a request; the verdict cached per key.
        const agent = new AttestedSmsAgent(s1.attest as SmsAttestOptions, s1.url, 30_000, { maxSockets: c });
        const u = new URL('/tee/sessions', s1.url);
        const post = ({ body, auth }: Prepared) =>
          new Promise<void>((resolve, reject) => {
            const r = httpsRequest(
              u,
              {
                method: 'POST',
                agent,
                headers: {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(body),
                  authorization: auth,
                },
              },
              (res) => {
                res.resume();
                res.on('end', () =>
                  res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
                );
              },
            );
            r.on('error', reject);
            r.end(body);
          });
        // warm-up: open the c keep-alive TLS connections and fill the caches (not timed)
        await run(c, c, (i) => post(prepared[i]!));
        const smsCpu0 = cpuMsOfTree(child.pid!);
        const anvilCpu0 = anvil ? procStat(anvil)![1] : NaN;
        const selfCpu0 = process.cpuUsage();
        const r = m.rate
          ? await runOpen(N, m.rate, c, (i) => post(prepared[c + i]!))
          : await run(N, c, (i) => post(prepared[c + i]!));
        const smsCpu = (cpuMsOfTree(child.pid!) - smsCpu0) / N;
        const anvilCpu = anvil ? (procStat(anvil)![1] - anvilCpu0) / N : NaN;
        const self = process.cpuUsage(selfCpu0);
        agent.destroy();
        const cpu = (x: number) => x.toFixed(2).padStart(9);
        console.log(
          `${String(workers).padStart(5)}   ${m.label.padEnd(12)}   ${fmt(r.perSec)}      ${fmt(r.p50)}   ${fmt(r.p99)}   ${String(r.errors).padStart(6)}   ${cpu(smsCpu)}   ${cpu(anvilCpu).padStart(9)}   ${cpu((self.user + self.system) / 1000 / N).padStart(10)}   ${String(agent.attestations).padStart(6)}`,
        );
        if (firstError) console.log(`        first error: ${firstError}`);
        firstError = undefined;
      }
    }
    await stopSms(child);
    child = undefined;

    // --- phase 2: same service in-process, no HTTP: where the time goes
    const sms = await startTestSms({ chain, home, logger: silentLogger, nonceTtlMs: 600_000 });
    try {
      const SEQ = Math.min(300, N);
      const prepared = await prepare(sms.client, platform, world, tasks, dealId, N + SEQ);
      const release = sms.sms.release;
      // (a) one at a time: what each step costs
      const before = { ...release.timings };
      const seq = await run(SEQ, 1, async (i) => {
        await release.openSession(prepared[i]!.req, prepared[i]!.auth); // a refusal throws
      });
      const n = release.timings.sessions - before.sessions;
      const per = (k: keyof typeof before) => (release.timings[k] - before[k]) / n;
      console.log(`\nphase 2 — release service in-process, no HTTP/TLS`);
      console.log(
        `one at a time: ${seq.perSec.toFixed(0)} releases/s, mean ${(1000 / seq.perSec).toFixed(2)} ms; time per release in each step (ms):`,
      );
      const rows: [string, keyof typeof before][] = [
        ['chain reads (task fresh; deal/app/dataset cached)', 'chain'],
        ['signature checks (scheduler authorization, worker)', 'signature'],
        ['quote verification + policy', 'quote'],
        ['secrets (open sealed values)', 'secrets'],
        ['JWE encryption (ECDH-ES + A256GCM)', 'encryption'],
        ['audit commit (group-committed, no fsync)', 'audit'],
      ];
      let sum = 0;
      for (const [label, k] of rows) {
        sum += per(k);
        console.log(`  ${label.padEnd(52)} ${per(k).toFixed(3).padStart(8)}`);
      }
      console.log(
        `  ${'rest (parsing, validation, REPORTDATA, payload)'.padEnd(52)} ${(1000 / seq.perSec - sum).toFixed(3).padStart(8)}`,
      );
      // (b) 50 in flight
      const r = await run(N, 50, async (i) => {
        await release.openSession(prepared[SEQ + i]!.req, prepared[SEQ + i]!.auth); // a refusal throws
      });
      console.log(
        `50 in flight: ${r.perSec.toFixed(0)} releases/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
      );
      if (sms.sms.chainStats) {
        const s = sms.sms.chainStats;
        console.log(
          `  chain calls: task ${s.calls.task}, deal ${s.calls.deal}, app ${s.calls.app}, dataset ${s.calls.dataset}; cache hits ${s.cacheHits}`,
        );
      }
    } finally {
      await sms.close();
    }
  } finally {
    if (child) child.kill('SIGKILL');
    await chain.stop();
    t.cleanup();
  }
}

await main();
