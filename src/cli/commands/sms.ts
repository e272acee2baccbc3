import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import { action } from '../context.js';
import { group } from '../groups.js';
import { register as registerSecrets } from './sms-secrets.js';

// Loaded on use: `sealwork --help` and other commands do not pay for the SMS's dependencies.
const loadSdk = () => import('../../sdk/sms/index.js');
const loadSms = () => import('../../sms/start.js');

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function register(program: Command): void {
  const sms = group(program, 'sms');

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
      action(
        async (
          ctx,
          o: {
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
          },
        ) => {
          if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64)
            throw new SealworkError('WORKERS_INVALID', '--workers must be 1..64.', {
              hint: 'Give a process count.',
            });
          if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
            throw new SealworkError('PORT_INVALID', `--port must be 0..65535.`, {
              hint: 'Give a TCP port number.',
            });
          if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel))
            throw new SealworkError(
              'LOG_LEVEL_INVALID',
              `--log-level must be one of ${LOG_LEVELS.join(', ')}.`,
            );
          const common = {
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
          };
          const { default: cluster } = await import('node:cluster');
          const sdk = await loadSdk();
          // With --workers > 1 this process is the primary; the forked workers re-run this
          // command and serve the port (printing nothing).
          const isWorker = o.workers > 1 && cluster.isWorker;
          const running =
            o.workers > 1 && cluster.isPrimary
              ? await sdk.startSmsClusterService({ ...common, workers: o.workers })
              : await sdk.startSmsService({ ...common, ...(isWorker ? { clusterWorker: true } : {}) });
          if (!isWorker)
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
          await new Promise<void>((resolveStop) => {
            const stop = (signal: string) => {
              process.off('SIGINT', onInt);
              process.off('SIGTERM', onTerm);
              if (!isWorker) ctx.info(`${signal}: stopping the SMS…`);
              running
                .close()
                // A worker's IPC channel to the primary keeps it alive: close it so the process exits.
                .finally(() => (isWorker && process.connected ? process.disconnect() : undefined))
                .then(resolveStop, resolveStop);
            };
            const onInt = () => stop('SIGINT');
            const onTerm = () => stop('SIGTERM');
            process.on('SIGINT', onInt);
            process.on('SIGTERM', onTerm);
            // A worker whose primary is gone stops too.
            if (isWorker) process.once('disconnect', () => stop('disconnect'));
          });
        },
      ),
    );

  sms
    .command('status')
    .description('Show the configured SMS and whether it answers')
    .option('--sms-url <url>', 'SMS URL (env SEALWORK_SMS_URL, default: the local SMS)')
    .option('--sms-ca <file>', 'PEM certificate to trust (default: the local SMS certificate)')
    .action(
      action(async (ctx, o: { smsUrl?: string; smsCa?: string }) => {
        const { client, url, caPath } = await (
          await loadSdk()
        ).resolveSms({
          home: ctx.home,
          smsUrl: o.smsUrl,
          smsCa: o.smsCa,
        });
        const rec = await (await loadSms()).readSmsRecord(ctx.home);
        const health = await client.health();
        ctx.out({ url, caPath: caPath ?? null, pid: rec?.url === url ? rec.pid : null, health }, [
          `sms: ${url} (${String(health.status)})`,
          ...(caPath ? [`certificate: ${caPath}`] : []),
          `database: ${String(health.db)}, chain id ${String(health.chainId)}, hub ${String(health.hub)}`,
        ]);
      }),
    );

  registerSecrets(program);
}
