/** `sealwork dev`: the local stack (chain, SMS, storage, worker) and the narrated demo. */
import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import { action } from '../context.js';
import { untilSignal } from '../terminal.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new SealworkError('PORT_INVALID', `--chain-port ${v} is not a port.`, {
      hint: 'Give an integer from 1 to 65535.',
    });
  return n;
}

export function register(program: Command): void {
  program
    .command('dev')
    .description(
      'Start the local stack (embedded chain, SMS, storage, worker) and run the narrated confidential-computing demo',
    )
    .option('--no-demo', 'only start the stack and keep it running for manual use')
    .option(
      '--exit-after-demo',
      'stop everything after the demo (exit 0 only if the result decrypted and the task verified)',
    )
    .option(
      '--chain-port <port>',
      'port of the embedded chain (default 8545, or a free one if 8545 is taken)',
    )
    .option('--slots <n>', 'worker slots', '2')
    .option(
      '--allow-fetch-host <host[:port]|CIDR>',
      "let the worker's downloads reach this non-public host, address or range besides the stack's own storage (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--result-key-format <format>', 'demo result key wrap: oaep (default) or iexec', 'oaep')
    .action(
      action(
        async (
          ctx,
          o: {
            demo: boolean;
            exitAfterDemo?: boolean;
            chainPort?: string;
            slots: string;
            allowFetchHost?: string[];
            resultKeyFormat: string;
          },
        ) => {
          // A reader that goes away (`sealwork dev | head`) must not kill dev before it stops the
          // chain it started: output errors are dropped, the stack still stops cleanly.
          const dropEpipe = (e: NodeJS.ErrnoException) => {
            if (e.code !== 'EPIPE') throw e;
          };
          process.stdout.on('error', dropEpipe);
          process.stderr.on('error', dropEpipe);
          const t0 = Date.now();
          const notices: string[] = [];
          const { startStack } = await import('../../sdk/stack/index.js');
          const stack = await startStack({
            home: ctx.home,
            ...(o.chainPort !== undefined ? { chainPort: parsePort(o.chainPort) } : {}),
            slots: Number(o.slots),
            ...(o.allowFetchHost?.length ? { allowFetchHosts: o.allowFetchHost } : {}),
            onInfo: (m) => {
              notices.push(m);
              ctx.info(m);
            },
            onEvent: (e) => {
              if (e.kind === 'failed')
                ctx.info(`  worker: task ${e.taskId} failed [${e.cause?.code}] ${e.cause?.message}`);
            },
          });
          const d = stack.describe();
          ctx.info(
            `sealwork dev stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (home ${stack.home})`,
          );
          ctx.info(`  chain    ${d.chainUrl}  (hub ${d.hub})`);
          ctx.info(`  SMS      ${d.smsUrl}  (certificate ${d.smsCertPath})`);
          ctx.info(
            `  storage  ${d.storageUrl}  (certificate ${d.storageCertPath}; IPFS gateway at /ipfs/<cid>)`,
          );
          ctx.info(
            `  iexec SDK: iexecGatewayURL ${d.marketUrl}, ipfsGatewayURL ${d.storageUrl}, smsURL ${d.smsUrl}, hubAddress ${d.hub}`,
          );
          ctx.info(`  worker   workerpool ${d.workerpool}, scheduler ${d.scheduler}, worker ${d.worker}`);
          ctx.info(`  images   local app images are read only under ${d.appImageRoot}`);
          ctx.info('  SIMULATION: SGX is simulated here; no confidentiality against this host.');
          try {
            if (o.demo) {
              const { runDemo } = await import('../../sdk/stack/demo.js');
              const r = await runDemo(stack, {
                onStep: (s) => ctx.info(`• ${s.detail}`),
                resultKeyFormat: o.resultKeyFormat === 'iexec' ? 'iexec' : 'oaep-sha256',
              });
              ctx.out(
                {
                  ok: true,
                  stack: d,
                  notices,
                  app: r.app,
                  dataset: r.dataset,
                  taskId: r.taskId,
                  result: r.result,
                  verified: r.verified,
                  steps: r.steps,
                },
                [
                  '',
                  'demo finished: the decrypted result is',
                  ...r.result
                    .trimEnd()
                    .split('\n')
                    .map((l) => `  ${l}`),
                  `task verify: every link of the task's trust chain holds (${r.verified.links.length} links${r.verified.simulated ? ', simulated platform' : ''})`,
                ],
              );
            } else ctx.out({ ok: true, stack: d, notices }, `stack running: ${JSON.stringify(d)}`);
            if (o.exitAfterDemo) return;
            ctx.info(
              'the stack keeps running for manual use (see $SEALWORK_HOME/stack.json); Ctrl-C to stop',
            );
            await untilSignal(async () => undefined);
          } finally {
            await stack.stop();
          }
        },
      ),
    );
}
