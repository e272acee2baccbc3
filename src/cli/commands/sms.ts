/** `sealwork sms`: run the Secret Management Service, show its status. */
import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import { action, type CliContext } from '../context.js';

// Loaded on use: `sealwork --help` and other commands do not pay for the SMS's dependencies.
const sdk = () => import('../../sdk/sms/service.js');

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

interface StartOpts {
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
  sms
    .command('start')
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
              workers: o.workers,
            },
            [
              `sms listening on ${running.url}${o.workers > 1 ? ` (${o.workers} processes)` : ''}`,
              ...(running.certPath
                ? [`certificate: ${running.certPath} (sha256 ${running.fingerprint256})`]
                : []),
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
        ]);
      }),
    );
}

export function register(program: Command): void {
  const sms = program.command('sms').description('Secret Management Service');
  startCommand(sms);
  statusCommand(sms);
}
