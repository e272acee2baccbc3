/** `sealwork chain`: the embedded chain (start, stop, status) and contract deployments. */
import type { Command } from 'commander';
import { action } from '../context.js';
import { chainOptions, chainParams, type ChainOpts } from '../options.js';

const sdk = () => import('../../sdk/chain/embedded.js');

function startCommand(chain: Command): void {
  chain
    .command('start')
    .description(
      'Start the embedded chain (anvil on 127.0.0.1, state in $SEALWORK_HOME/chain); deploys the contracts on first start',
    )
    .option('--port <port>', 'port on 127.0.0.1 (default 8545)', (v) => Number(v))
    .action(
      action(async (ctx, o: { port?: number }) => {
        const r = await (await sdk()).startChain({ home: ctx.home, port: o.port });
        ctx.out(r, [
          `${r.alreadyRunning ? 'already running' : 'started'}: ${r.url} (pid ${r.pid}, chain id ${r.chainId})`,
          `${r.deployed ? 'deployed' : 'hub'}: ${r.deployment.hub}`,
          `state: ${r.statePath}`,
        ]);
      }),
    );
}

function stopCommand(chain: Command): void {
  chain
    .command('stop')
    .description('Stop the embedded chain (its state is kept for the next start)')
    .action(
      action(async (ctx) => {
        const r = await (await sdk()).stopChain({ home: ctx.home });
        ctx.out(r, r.stopped ? `stopped (pid ${r.pid})` : 'the embedded chain is not running');
      }),
    );
}

function statusCommand(chain: Command): void {
  chainOptions(
    chain
      .command('status')
      .description('Show the configured chain: URL, whether it answers, block, deployment'),
  ).action(
    action(async (ctx, o: ChainOpts) => {
      const r = await (await sdk()).chainStatus({ home: ctx.home, chainUrl: o.chainUrl });
      ctx.out(r, [
        `chain:   ${r.url}${r.embedded ? ' (embedded)' : ''}${r.pid ? ` pid ${r.pid}` : ''}`,
        `status:  ${r.reachable ? `running, chain id ${r.chainId}, block ${r.blockNumber}` : 'not reachable'}`,
        ...(r.deployment
          ? [
              `hub:     ${r.deployment.hub}`,
              `apps:    ${r.deployment.appRegistry}`,
              `datasets: ${r.deployment.datasetRegistry}`,
              `workerpools: ${r.deployment.workerpoolRegistry}`,
            ]
          : r.reachable
            ? ['contracts: not deployed (run `sealwork chain deploy`)']
            : []),
      ]);
    }),
  );
}

function deployCommand(chain: Command): void {
  chainOptions(
    chain
      .command('deploy')
      .description('Deploy the contracts on the configured chain and record the deployment'),
  ).action(
    action(async (ctx, o: ChainOpts) => {
      const d = await (await sdk()).deployChain(chainParams(ctx, o));
      ctx.out(d, [
        `hub:         ${d.hub}`,
        `apps:        ${d.appRegistry}`,
        `datasets:    ${d.datasetRegistry}`,
        `workerpools: ${d.workerpoolRegistry}`,
      ]);
    }),
  );
}

function fundCommand(chain: Command): void {
  chainOptions(
    chain
      .command('fund')
      .description('Give an address ETH on a local dev chain (e.g. a wallet made with `wallet create`)')
      .argument('<address>')
      .option('--eth <amount>', 'balance to set, in ETH (default 100)', (v) => Number(v)),
  ).action(
    action(async (ctx, o: ChainOpts & { eth?: number }, address: string) => {
      const { fundAccount } = await sdk();
      const r = await fundAccount({ home: ctx.home, chainUrl: o.chainUrl, address, eth: o.eth });
      ctx.out(r, `${r.address}: ${Number(r.balance / 10n ** 14n) / 1e4} ETH`);
    }),
  );
}

export function register(program: Command): void {
  const chain = program.command('chain').description('The embedded chain (anvil) and contract deployments');
  startCommand(chain);
  stopCommand(chain);
  statusCommand(chain);
  deployCommand(chain);
  fundCommand(chain);
}
