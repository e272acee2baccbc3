/** `sealwork sms`: run the Secret Management Service, show its status. */
import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import { action, type CliContext } from '../context.js';
import { smsPinOptions, type SmsOpts } from '../options.js';

// Loaded on use: `sealwork --help` and other commands do not pay for the SMS's dependencies.
const sdk = () => import('../../sdk/sms/service.js');
const enclaveSdk = () => import('../../sdk/sms/enclave.js');

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The options of the SMS's identity and sealing (measured with it; shared by start and measure). */
interface EnclaveOpts {
  signingKey?: string;
  isvSvn?: number;
  isvProdId?: number;
  sealPolicy?: string;
  recoveryKey?: string;
}

const intOption = (v: string) => Number.parseInt(v, 10);

function enclaveOptions(c: Command): Command {
  return c
    .option(
      '--signing-key <file>',
      'Ed25519 release signing key, PEM (MRSIGNER; default: dev key in the home)',
    )
    .option('--isv-svn <n>', 'security version signed with the measurement (ISVSVN)', intOption)
    .option('--isv-prod-id <n>', 'product id signed with the measurement (ISVPRODID)', intOption)
    .option('--seal-policy <policy>', 'seal the master key to mrsigner (upgradable) or mrenclave', 'mrsigner')
    .option(
      '--recovery-key <file>',
      'offline recovery public key (RSA PEM): the master key is also encrypted to it',
    );
}

function enclaveParams(o: EnclaveOpts) {
  if (o.sealPolicy !== undefined && o.sealPolicy !== 'mrsigner' && o.sealPolicy !== 'mrenclave')
    throw new SealworkError('SMS_SEAL_POLICY_INVALID', `--seal-policy must be mrsigner or mrenclave.`, {
      hint: 'mrsigner lets a newer version by the same signer unseal; mrenclave binds to this exact build.',
    });
  return {
    ...(o.signingKey ? { signingKey: o.signingKey } : {}),
    ...(o.isvSvn !== undefined ? { isvSvn: o.isvSvn } : {}),
    ...(o.isvProdId !== undefined ? { isvProdId: o.isvProdId } : {}),
    ...(o.sealPolicy ? { sealPolicy: o.sealPolicy as 'mrsigner' | 'mrenclave' } : {}),
    ...(o.recoveryKey ? { recoveryKey: o.recoveryKey } : {}),
  };
}

interface StartOpts extends EnclaveOpts {
  host: string;
  port: number;
  db?: string;
  chainUrl?: string;
  policy?: string;
  allowSimulation?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
  workers: number;
}

function checkStartOptions(o: StartOpts): void {
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64)
    throw new SealworkError('WORKERS_INVALID', '--workers must be 1..64.', {
      hint: 'Give a process count.',
    });
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
    throw new SealworkError('PORT_INVALID', `--port must be 0..65535.`, {
      hint: 'Give a TCP port number.',
    });
  if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel))
    throw new SealworkError('LOG_LEVEL_INVALID', `--log-level must be one of ${LOG_LEVELS.join(', ')}.`);
}

/** Serve until SIGINT / SIGTERM (a cluster worker also stops when its primary goes away). */
function serveUntilStopped(
  ctx: CliContext,
  server: { clusterWorker: boolean; stop(): Promise<void> },
): Promise<void> {
  return new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (!server.clusterWorker) ctx.info(`${signal}: stopping the SMS…`);
      server.stop().then(resolveStop, resolveStop);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (server.clusterWorker) process.once('disconnect', () => stop('disconnect'));
  });
}

function startCommand(sms: Command): void {
  enclaveOptions(sms.command('start'))
    .description(
      'Run the Secret Management Service (iExec secret API + attested release) until Ctrl-C / SIGTERM',
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', (v) => Number.parseInt(v, 10), 13300)
    .option('--db <path|url>', 'SQLite file or postgres:// URL (default $SEALWORK_HOME/sms/sms.db)')
    .option('--chain-url <url>', 'JSON-RPC endpoint (env SEALWORK_CHAIN_URL, default: the embedded chain)')
    .option(
      '--policy <file>',
      'attestation policy JSON (TCB statuses, advisories, allowDebug, allowSimulation)',
    )
    .option(
      '--allow-simulation',
      'accept quotes of the simulated platform (SIM mode, no hardware protection)',
    )
    .option('--tls-cert <file>', 'PEM certificate (default: self-signed, generated on first start)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'info')
    .option(
      '--workers <n>',
      'SMS processes sharing the port (node:cluster)',
      (v) => Number.parseInt(v, 10),
      1,
    )
    .action(
      action(async (ctx, o: StartOpts) => {
        checkStartOptions(o);
        // With --workers > 1 this process is the primary; the forked workers re-run this
        // command and serve the port (printing nothing).
        const server = await (
          await sdk()
        ).serveSms({
          home: ctx.home,
          host: o.host,
          port: o.port,
          ...(o.db ? { db: o.db } : {}),
          ...(o.chainUrl ? { chainUrl: o.chainUrl } : {}),
          ...(o.policy ? { policyFile: o.policy } : {}),
          ...(o.allowSimulation ? { allowSimulation: true } : {}),
          ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
          ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
          logLevel: o.logLevel as (typeof LOG_LEVELS)[number],
          workers: o.workers,
          ...enclaveParams(o),
        });
        const running = server.running;
        if (!server.clusterWorker)
          ctx.out(
            {
              url: running.url,
              certPath: running.certPath ?? null,
              fingerprint256: running.fingerprint256 ?? null,
              db: running.db,
              chainUrl: running.chainUrl,
              hub: running.hub,
              simulation: Boolean(running.policy.allowSimulation),
              attestedTls: Boolean(running.attested),
              ...(running.attested
                ? {
                    mrEnclave: running.attested.identity.mrEnclave,
                    mrSigner: running.attested.identity.mrSigner,
                  }
                : {}),
              workers: o.workers,
            },
            [
              `sms listening on ${running.url}${o.workers > 1 ? ` (${o.workers} processes)` : ''}`,
              ...(running.certPath
                ? [`certificate: ${running.certPath} (sha256 ${running.fingerprint256})`]
                : []),
              running.attested
                ? `attested TLS: MrEnclave ${running.attested.identity.mrEnclave} (simulated platform; key in memory only)`
                : 'TLS:         NOT attested (operator certificate or HTTP): sealwork clients will refuse to send',
              `database:    ${running.db}`,
              `chain:       ${running.chainUrl} (hub ${running.hub})`,
              ...(running.policy.allowSimulation
                ? ['simulation:  quotes of the simulated platform are ACCEPTED (no hardware protection)']
                : []),
            ],
          );
        await serveUntilStopped(ctx, server);
      }),
    );
}

interface MeasureOpts extends EnclaveOpts {
  db?: string;
  chainUrl?: string;
  chainId?: number;
  hub?: string;
  policy?: string;
  allowSimulation?: boolean;
  tlsCert?: string;
}

function measureCommand(sms: Command): void {
  enclaveOptions(sms.command('measure'))
    .description(
      "Print the SMS's MRENCLAVE (over its bundle, node runtime and configuration), MRSIGNER, ISVPRODID and ISVSVN",
    )
    .option('--db <path|url>', 'as for sms start (only its kind, SQLite or PostgreSQL, is measured)')
    .option('--chain-url <url>', 'as for sms start (the chain id and hub are measured)')
    .option('--chain-id <id>', 'measure for this chain id (with --hub) without asking the chain', intOption)
    .option('--hub <address>', 'measure for this hub (with --chain-id)')
    .option('--policy <file>', 'as for sms start')
    .option('--allow-simulation', 'as for sms start')
    .option('--tls-cert <file>', 'as for sms start (only whether TLS is the operator’s is measured)')
    .action(
      action(async (ctx, o: MeasureOpts) => {
        const m = await (
          await enclaveSdk()
        ).measureSmsService({
          home: ctx.home,
          ...(o.db ? { db: o.db } : {}),
          ...(o.chainUrl ? { chainUrl: o.chainUrl } : {}),
          ...(o.chainId !== undefined ? { chainId: o.chainId } : {}),
          ...(o.hub ? { hub: o.hub } : {}),
          ...(o.policy ? { policyFile: o.policy } : {}),
          ...(o.allowSimulation ? { allowSimulation: true } : {}),
          ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
          ...enclaveParams(o),
        });
        const c = m.manifest.code;
        ctx.out(m, [
          `MRENCLAVE  ${m.mrEnclave}`,
          `MRSIGNER   ${m.mrSigner}`,
          `ISVPRODID  ${m.isvProdId}`,
          `ISVSVN     ${m.isvSvn}`,
          `simulated  yes (no SGX: a measurement of the simulated SMS enclave)`,
          `bundle     ${c.bundle.path} ${c.bundle.size} bytes sha256 ${c.bundle.sha256}`,
          ...c.packages.map((p) => `package    ${p.name}@${p.version} (${p.files} files) sha256 ${p.sha256}`),
          `runtime    node ${m.manifest.runtime.node.version} ${m.manifest.runtime.node.path} sha256 ${m.manifest.runtime.node.sha256}`,
          ...m.manifest.runtime.libraries.map((l) => `library    ${l.path} sha256 ${l.sha256}`),
          `config     ${JSON.stringify(m.manifest.config)}`,
        ]);
      }),
    );
}

function statusCommand(sms: Command): void {
  sms
    .command('status')
    .description('Show the configured SMS and whether it answers')
    .option('--sms-url <url>', 'SMS URL (env SEALWORK_SMS_URL, default: the local SMS)')
    .option('--sms-ca <file>', 'PEM certificate to trust (default: the local SMS certificate)')
    .action(
      action(async (ctx, o: { smsUrl?: string; smsCa?: string }) => {
        const r = await (await sdk()).smsStatus({ home: ctx.home, smsUrl: o.smsUrl, smsCa: o.smsCa });
        ctx.out(r, [
          `sms: ${r.url} (${String(r.health.status)})`,
          ...(r.caPath ? [`certificate: ${r.caPath}`] : []),
          `database: ${String(r.health.db)}, chain id ${String(r.health.chainId)}, hub ${String(r.health.hub)}`,
          r.attestedTls
            ? 'TLS: attested (RA-TLS) — sealwork clients verify the SMS before sending (`sealwork sms verify`)'
            : 'TLS: NOT attested (operator certificate or HTTP) — sealwork clients send nothing to it',
          `iExec SDK: ${r.plainTlsClients}`,
        ]);
      }),
    );
}

type VerifyResult = Awaited<ReturnType<Awaited<ReturnType<typeof sdk>>['verifySms']>>;

function verifyReport(r: VerifyResult): string[] {
  const v = r.verdict;
  const pin = [
    ...r.pin.mrEnclave.map((m) => `MrEnclave ${m}`),
    ...r.pin.mrSigner.map((m) => `MrSigner ${m}`),
  ];
  return [
    `SMS ${r.url}`,
    `identity:   MrEnclave ${v.mrEnclave || '-'}`,
    `            MrSigner  ${v.mrSigner || '-'}`,
    `platform:   ${v.simulated ? 'SIMULATED (no hardware protection)' : 'hardware'}`,
    `TCB status: ${v.tcbStatus}`,
    `pin:        ${pin.length ? pin.join(', ') : 'none (deny by default)'} — from ${r.pin.source}${r.pin.trustOnFirstUse ? ': the SMS wrote it itself, pin it with --sms-mrenclave to trust more than first use' : ''}${r.pin.allowSimulation ? '; simulation allowed' : ''}`,
    'checks:',
    ...v.checks.map(
      (c) =>
        `  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}${c.ok ? '' : `: expected ${c.expected ?? 'ok'}, found ${c.actual ?? '-'}`}`,
    ),
    `verdict:    ${v.ok ? 'the SMS passes the pinned policy' : 'REFUSED: sealwork clients send nothing to this SMS'}${v.simulated ? ' (simulated)' : ''}`,
  ];
}

function verifyCommand(sms: Command): void {
  smsPinOptions(
    sms
      .command('verify [url]')
      .description(
        "Check the SMS's attested TLS: its identity, TCB status and the pinned policy (exit 0 only when it passes)",
      ),
  ).action(
    action(async (ctx, o: SmsOpts, url: string | undefined) => {
      const { verifySms } = await sdk();
      const r = await verifySms({
        home: ctx.home,
        ...(url ? { smsUrl: url } : {}),
        ...(o.smsMrenclave?.length ? { smsMrenclave: o.smsMrenclave } : {}),
        ...(o.smsMrsigner?.length ? { smsMrsigner: o.smsMrsigner } : {}),
        ...(o.smsAllowSimulation ? { smsAllowSimulation: true } : {}),
        refuse: false,
      });
      if (r.verdict.ok) {
        ctx.out(r, () => verifyReport(r));
        return;
      }
      if (!ctx.json) process.stdout.write(`${verifyReport(r).join('\n')}\n`);
      throw (await sdk()).smsRefusal(r);
    }),
  );
}

export function register(program: Command): void {
  const sms = program.command('sms').description('Secret Management Service');
  startCommand(sms);
  measureCommand(sms);
  statusCommand(sms);
  verifyCommand(sms);
}
