/** `sealwork workerpool`: deploy and show. */
import type { Command } from 'commander';
import type { Address } from 'viem';
import { action } from '../context.js';
import { chainOptions, chainParams, type ChainOpts } from '../options.js';

const sdk = () => import('../../sdk/chain/assets.js');

export function register(program: Command): void {
  const pool = program.command('workerpool').description('Workerpools: deploy and show');
  chainOptions(
    pool
      .command('deploy')
      .description('Register a workerpool on chain')
      .requiredOption('--description <text>', 'workerpool description')
      .option('--owner <address>', 'owner of the workerpool NFT (default: the wallet)'),
  ).action(
    action(async (ctx, o: ChainOpts & { description: string; owner?: Address }) => {
      const r = await (await sdk()).deployWorkerpool({ ...chainParams(ctx, o), ...o });
      ctx.out(r, [`workerpool: ${r.address}`, `owner:      ${r.owner}`, `tx:         ${r.txHash}`]);
    }),
  );
  chainOptions(
    pool.command('show').description('Show a workerpool registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showWorkerpool } = await sdk();
      const r = await showWorkerpool({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [`workerpool:  ${r.address}`, `owner:       ${r.owner}`, `description: ${r.description}`]);
    }),
  );
}
