/** `sealwork order`: sign (one subcommand per kind), publish, cancel, list. */
import type { Command } from 'commander';
import type { ListOrdersFilter, OrderKind, SignOrderFields } from '../../sdk/chain/index.js';
import { action } from '../context.js';
import { chainOptions, chainParams, type ChainOpts } from '../options.js';

const sdk = () => import('../../sdk/chain/orders.js');

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

function signCommand(order: Command): void {
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
        const { signOrderToFile, signedOrderToJson } = await sdk();
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
}

function publishCommand(order: Command): void {
  chainOptions(
    order
      .command('publish')
      .description('Publish a signed order on chain (the whole order goes in an event)')
      .argument('<file>'),
  ).action(
    action(async (ctx, o: ChainOpts, file: string) => {
      const r = await (await sdk()).publishOrderFile({ ...chainParams(ctx, o), file });
      ctx.out(r, [`published ${r.kind} order ${r.orderHash}`, `tx: ${r.txHash}`]);
    }),
  );
}

function cancelCommand(order: Command): void {
  chainOptions(
    order.command('cancel').description('Cancel an order on chain (owner only)').argument('<file>'),
  ).action(
    action(async (ctx, o: ChainOpts, file: string) => {
      const r = await (await sdk()).cancelOrderFile({ ...chainParams(ctx, o), file });
      ctx.out(r, [`cancelled ${r.kind} order ${r.orderHash}`, `tx: ${r.txHash}`]);
    }),
  );
}

function listCommand(order: Command): void {
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
      const list = await (await sdk()).listMarket({ ...chainParams(ctx, o), ...o });
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
}

export function register(program: Command): void {
  const order = program.command('order').description('Orders: sign, publish, cancel, list');
  signCommand(order);
  publishCommand(order);
  cancelCommand(order);
  listCommand(order);
}
