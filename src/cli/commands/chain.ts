import type { Command } from 'commander';
const loadSdkChainEmbedded = () => import('../../sdk/chain/embedded.js');
import { action } from '../context.js';
import { group } from '../groups.js';
import { registerAssets } from './chain-assets.js';
import { chainOptions, chainParams, type ChainOpts } from './chain-common.js';
import { registerMarket } from './chain-market.js';
import { registerWallet } from './chain-wallet.js';

/** The Chain domain: embedded chain, wallets, assets, orders, deals, tasks. */
export function register(program: Command): void {
  const chain = group(program, 'chain');

  chain
    .command('start')
    .description(
      'Start the embedded chain (anvil on 127.0.0.1, state in $SEALWORK_HOME/chain); deploys the contracts on first start',
    )
    .option('--port <port>', 'port on 127.0.0.1 (default 8545)', (v) => Number(v))
    .action(
      action(async (ctx, o: { port?: number }) => {
        const r = await (await loadSdkChainEmbedded()).startChain({ home: ctx.home, port: o.port });
        ctx.out(r, [
          `${r.alreadyRunning ? 'already running' : 'started'}: ${r.url} (pid ${r.pid}, chain id ${r.chainId})`,
          `${r.deployed ? 'deployed' : 'hub'}: ${r.deployment.hub}`,
          `state: ${r.statePath}`,
        ]);
      }),
    );

  chain
    .command('stop')
    .description('Stop the embedded chain (its state is kept for the next start)')
    .action(
      action(async (ctx) => {
        const r = await (await loadSdkChainEmbedded()).stopChain({ home: ctx.home });
        ctx.out(r, r.stopped ? `stopped (pid ${r.pid})` : 'the embedded chain is not running');
      }),
    );

  chainOptions(
    chain
      .command('status')
      .description('Show the configured chain: URL, whether it answers, block, deployment'),
  ).action(
    action(async (ctx, o: ChainOpts) => {
      const r = await (await loadSdkChainEmbedded()).chainStatus({ home: ctx.home, chainUrl: o.chainUrl });
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

  chainOptions(
    chain
      .command('deploy')
      .description('Deploy the contracts on the configured chain and record the deployment'),
  ).action(
    action(async (ctx, o: ChainOpts) => {
      const d = await (await loadSdkChainEmbedded()).deployChain(chainParams(ctx, o));
      ctx.out(d, [
        `hub:         ${d.hub}`,
        `apps:        ${d.appRegistry}`,
        `datasets:    ${d.datasetRegistry}`,
        `workerpools: ${d.workerpoolRegistry}`,
      ]);
    }),
  );

  chainOptions(
    chain
      .command('fund')
      .description('Give an address ETH on a local dev chain (e.g. a wallet made with `wallet create`)')
      .argument('<address>')
      .option('--eth <amount>', 'balance to set, in ETH (default 100)', (v) => Number(v)),
  ).action(
    action(async (ctx, o: ChainOpts & { eth?: number }, address: string) => {
      const { fundAccount } = await loadSdkChainEmbedded();
      const r = await fundAccount({ home: ctx.home, chainUrl: o.chainUrl, address, eth: o.eth });
      ctx.out(r, `${r.address}: ${Number(r.balance / 10n ** 14n) / 1e4} ETH`);
    }),
  );

  registerWallet(program);
  registerAssets(program);
  registerMarket(program);
}
