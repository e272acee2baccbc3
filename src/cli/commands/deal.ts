/** `sealwork deal`: match orders into a deal, show a deal and its tasks. */
import type { Command } from 'commander';
import { action } from '../context.js';
import { chainOptions, chainParams, when, type ChainOpts } from '../options.js';

const sdk = () => import('../../sdk/chain/deals.js');

interface MatchOpts extends ChainOpts {
  appOrder: string;
  datasetOrder?: string;
  workerpoolOrder: string;
  requestOrder: string;
}

export function register(program: Command): void {
  const deal = program.command('deal').description('Deals: match orders, show');
  chainOptions(
    deal
      .command('match')
      .description('Match an app, dataset, workerpool and request order into a deal')
      .requiredOption('--app-order <file>')
      .option('--dataset-order <file>', 'omit for a request without a dataset')
      .requiredOption('--workerpool-order <file>')
      .requiredOption('--request-order <file>'),
  ).action(
    action(async (ctx, o: MatchOpts) => {
      const r = await (await sdk()).matchDeal({ ...chainParams(ctx, o), ...o });
      ctx.out(r, [
        `deal:  ${r.dealid}`,
        `tasks: ${r.volume}`,
        ...r.taskids.map((t, i) => `  #${r.botFirst + BigInt(i)} ${t}`),
        ...(r.volume > BigInt(r.taskids.length)
          ? [`  … and ${r.volume - BigInt(r.taskids.length)} more (taskid = keccak256(dealid ‖ index))`]
          : []),
        `tx:    ${r.txHash}`,
      ]);
    }),
  );
  chainOptions(
    deal.command('show').description('Show a deal and the status of its tasks').argument('<dealid>'),
  ).action(
    action(async (ctx, o: ChainOpts, dealid: string) => {
      const d = await (await sdk()).showDeal({ ...chainParams(ctx, o), dealid });
      ctx.out(d, [
        `deal:        ${d.dealid}`,
        `app:         ${d.app.pointer} (owner ${d.app.owner})`,
        `dataset:     ${d.dataset.pointer}`,
        `workerpool:  ${d.workerpool.pointer} (owner ${d.workerpool.owner})`,
        `requester:   ${d.requester}  beneficiary ${d.beneficiary}`,
        `tag:         ${d.tag}  category ${d.category}  trust ${d.trust}`,
        `params:      ${d.params}`,
        `start:       ${when(d.startTime)}`,
        `tasks:`,
        ...d.tasks.map((t) => `  #${t.index} ${t.taskid} ${t.status}`),
        ...(d.botSize > BigInt(d.tasks.length)
          ? [`  … and ${d.botSize - BigInt(d.tasks.length)} more (use \`task show <taskid>\`)`]
          : []),
      ]);
    }),
  );
}
