import type { Command } from 'commander';
import type { ListOrdersFilter } from '../../chain/market.js';
import type { OrderKind } from '../../chain/orders.js';
const loadSdkChainDeals = () => import('../../sdk/chain/deals.js');
import type { SignOrderFields } from '../../sdk/chain/orders.js';
const loadSdkChainOrders = () => import('../../sdk/chain/orders.js');
import { action } from '../context.js';
import { group } from '../groups.js';
import { chainOptions, chainParams, type ChainOpts } from './chain-common.js';

const when = (t: bigint) => (t === 0n ? '-' : new Date(Number(t) * 1000).toISOString());

/** Options of `order sign <kind>`: [flag, description]. */
const SIGN_OPTIONS: Record<OrderKind, [string, string][]> = {
  app: [
    ['--app <address>', 'the app (required)'],
    ['--dataset-restrict <address>', 'only this dataset'],
    ['--workerpool-restrict <address>', 'only this workerpool'],
    ['--requester-restrict <address>', 'only this requester'],
  ],
  dataset: [
    ['--dataset <address>', 'the dataset (required)'],
    ['--app-restrict <address>', 'only this app (the apps allowed to get the key)'],
    ['--workerpool-restrict <address>', 'only this workerpool'],
    ['--requester-restrict <address>', 'only this requester'],
  ],
  workerpool: [
    ['--workerpool <address>', 'the workerpool (required)'],
    ['--category <n>', 'category (default 0)'],
    ['--trust <n>', 'trust (default 0)'],
    ['--app-restrict <address>', 'only this app'],
    ['--dataset-restrict <address>', 'only this dataset'],
    ['--requester-restrict <address>', 'only this requester'],
  ],
  request: [
    ['--app <address>', 'the app (required)'],
    ['--dataset <address>', 'the dataset (default none)'],
    ['--workerpool <address>', 'the workerpool (default any)'],
    ['--requester <address>', 'requester (default: the wallet)'],
    ['--beneficiary <address>', 'result beneficiary (default: the requester)'],
    ['--callback <address>', 'callback contract'],
    ['--category <n>', 'category (default 0)'],
    ['--trust <n>', 'trust (default 0)'],
    ['--params <json>', 'iExec params JSON, e.g. {"iexec_args":"..."}'],
  ],
};

export function registerMarket(program: Command): void {
  const order = group(program, 'order');
  const sign = order
    .command('sign')
    .description('Sign an order (EIP-712, iExec PoCo v5 format) and write it to a file');
  for (const kind of ['app', 'dataset', 'workerpool', 'request'] as const) {
    const c = sign.command(kind).description(`Sign a ${kind} order`);
    for (const [flag, desc] of SIGN_OPTIONS[kind]) c.option(flag, desc);
    c.option('--volume <n>', 'number of tasks (default 1)')
      .option('--tag <tag>', 'tee, or a bytes32 tag')
      .option('--price <n>', 'price (must be 0 for now)')
      .option('--out <file>', 'write the signed order here')
      .option('--force', 'overwrite --out');
    chainOptions(c).action(
      action(async (ctx, o: ChainOpts & SignOrderFields & { out?: string; force?: boolean }) => {
        const { signOrderToFile, signedOrderToJson } = await loadSdkChainOrders();
        const r = await signOrderToFile({
          ...chainParams(ctx, o),
          kind,
          fields: o,
          out: o.out,
          force: o.force,
        });
        const signed = signedOrderToJson(r.signed);
        ctx.out(
          {
            file: r.file,
            orderHash: r.orderHash,
            ...signed,
          },
          [`${kind} order ${r.orderHash}`, r.file ? `written: ${r.file}` : JSON.stringify(signed, null, 2)],
        );
      }),
    );
  }

  chainOptions(
    order
      .command('publish')
      .description('Publish a signed order on chain (the whole order goes in an event)')
      .argument('<file>'),
  ).action(
    action(async (ctx, o: ChainOpts, file: string) => {
      const r = await (await loadSdkChainOrders()).publishOrderFile({ ...chainParams(ctx, o), file });
      ctx.out(r, [`published ${r.kind} order ${r.orderHash}`, `tx: ${r.txHash}`]);
    }),
  );

  chainOptions(
    order.command('cancel').description('Cancel an order on chain (owner only)').argument('<file>'),
  ).action(
    action(async (ctx, o: ChainOpts, file: string) => {
      const r = await (await loadSdkChainOrders()).cancelOrderFile({ ...chainParams(ctx, o), file });
      ctx.out(r, [`cancelled ${r.kind} order ${r.orderHash}`, `tx: ${r.txHash}`]);
    }),
  );

  chainOptions(
    order
      .command('list')
      .description('List published orders with volume left, read from the chain')
      .option('--kind <kind>', 'app, dataset, workerpool or request')
      .option('--app <address>')
      .option('--dataset <address>')
      .option('--workerpool <address>')
      .option('--requester <address>')
      .option('--all', 'include consumed and cancelled orders'),
  ).action(
    action(async (ctx, o: ChainOpts & ListOrdersFilter) => {
      const list = await (await loadSdkChainOrders()).listMarket({ ...chainParams(ctx, o), ...o });
      ctx.out(
        list.map((p) => ({
          kind: p.kind,
          orderHash: p.orderHash,
          remaining: p.remaining,
          consumed: p.consumed,
          order: p.order,
        })),
        list.length === 0
          ? 'no published orders'
          : list.map((p) => {
              const o2 = p.order as unknown as Record<string, string>;
              const asset = o2.app ?? o2.dataset ?? o2.workerpool;
              return `${p.kind.padEnd(10)} ${p.orderHash}  ${asset}  remaining ${p.remaining}/${p.order.volume}`;
            }),
      );
    }),
  );

  const deal = group(program, 'deal');
  chainOptions(
    deal
      .command('match')
      .description('Match an app, dataset, workerpool and request order into a deal')
      .requiredOption('--app-order <file>')
      .option('--dataset-order <file>', 'omit for a request without a dataset')
      .requiredOption('--workerpool-order <file>')
      .requiredOption('--request-order <file>'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & {
          appOrder: string;
          datasetOrder?: string;
          workerpoolOrder: string;
          requestOrder: string;
        },
      ) => {
        const r = await (await loadSdkChainDeals()).matchDeal({ ...chainParams(ctx, o), ...o });
        ctx.out(r, [
          `deal:  ${r.dealid}`,
          `tasks: ${r.volume}`,
          ...r.taskids.map((t, i) => `  #${r.botFirst + BigInt(i)} ${t}`),
          ...(r.volume > BigInt(r.taskids.length)
            ? [`  … and ${r.volume - BigInt(r.taskids.length)} more (taskid = keccak256(dealid ‖ index))`]
            : []),
          `tx:    ${r.txHash}`,
        ]);
      },
    ),
  );
  chainOptions(
    deal.command('show').description('Show a deal and the status of its tasks').argument('<dealid>'),
  ).action(
    action(async (ctx, o: ChainOpts, dealid: string) => {
      const d = await (await loadSdkChainDeals()).showDeal({ ...chainParams(ctx, o), dealid });
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

  const task = group(program, 'task');
  chainOptions(
    task
      .command('show')
      .description('Show a task: on-chain status, deadlines, result; its failure cause from a local worker')
      .argument('<taskid>'),
  ).action(
    action(async (ctx, o: ChainOpts, taskid: string) => {
      const t = await (await loadSdkChainDeals()).showTask({ ...chainParams(ctx, o), taskid });
      // The worker domain adds the result location and, from this home's worker journal, the cause.
      const extra = await (await import('./worker-run.js')).taskShowExtras(ctx.home, t);
      ctx.out({ ...t, ...extra.json }, [
        `task:      ${t.taskid}`,
        `status:    ${t.statusName}`,
        `deal:      ${t.dealid} #${t.idx}`,
        `deadlines: contribution ${when(t.contributionDeadline)}, final ${when(t.finalDeadline)}`,
        ...(t.resultsTimestamp > 0n
          ? [
              `digest:    ${t.resultDigest}`,
              `results:   ${t.results}`,
              `worker:    ${t.contributors.join(', ')}`,
            ]
          : []),
        ...extra.lines,
      ]);
    }),
  );

  chainOptions(
    task
      .command('claim')
      .description('Claim a task after its final deadline (it becomes FAILED)')
      .argument('<taskid>'),
  ).action(
    action(async (ctx, o: ChainOpts, taskid: string) => {
      const r = await (await loadSdkChainDeals()).claimTaskById({ ...chainParams(ctx, o), taskid });
      ctx.out(r, [`claimed ${r.taskid}`, `tx: ${r.txHash}`]);
    }),
  );
}
