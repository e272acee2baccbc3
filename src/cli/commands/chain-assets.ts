import type { Command } from 'commander';
import type { Address } from 'viem';
const loadSdkChainAssets = () => import('../../sdk/chain/assets.js');
import { action } from '../context.js';
import { group } from '../groups.js';
import { chainOptions, chainParams, type ChainOpts } from './chain-common.js';

export function registerAssets(program: Command): void {
  const app = group(program, 'app');
  chainOptions(
    app
      .command('deploy')
      .description('Register an app on chain: image URI and enclave fingerprint (mrenclave JSON)')
      .requiredOption('--name <name>', 'app name')
      .requiredOption('--image <uri>', 'image URI (stored as m_appMultiaddr)')
      .option(
        '--mrenclave <json|@file>',
        '{"framework":"SCONE","version","entrypoint","heapSize","fingerprint"} (omit for a non-TEE app)',
      )
      .option(
        '--checksum <bytes32>',
        'image digest (0x + 64 hex); default: computed for a local image, else zero (refused by workers unless allowed)',
      )
      .option('--owner <address>', 'owner of the app NFT (default: the wallet)'),
  ).action(
    action(
      async (
        ctx,
        o: ChainOpts & {
          name: string;
          image: string;
          mrenclave?: string;
          checksum?: string;
          owner?: Address;
        },
      ) => {
        const r = await (await loadSdkChainAssets()).deployApp({ ...chainParams(ctx, o), ...o });
        if (/^0x0{64}$/.test(r.checksum))
          ctx.info(
            'warning: the app is deployed with a zero checksum; workers refuse it unless their operator passes --allow-zero-checksum. Give --checksum 0x<sha256 of the image archive>, or deploy a local image to have it computed.',
          );
        ctx.out(r, [
          `app:      ${r.address}`,
          `owner:    ${r.owner}`,
          `image:    ${r.multiaddr}`,
          `checksum: ${r.checksum}${r.checksumComputed ? ' (computed from the local image)' : ''}`,
          `tx:       ${r.txHash}`,
        ]);
      },
    ),
  );
  chainOptions(
    app.command('show').description('Show an app registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showApp } = await loadSdkChainAssets();
      const r = await showApp({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [
        `app:       ${r.address}`,
        `owner:     ${r.owner}`,
        `name:      ${r.name}`,
        `image:     ${r.multiaddr}`,
        `checksum:  ${r.checksum}`,
        `mrenclave: ${r.mrenclave || '(none: not a TEE app)'}`,
      ]);
    }),
  );

  const dataset = group(program, 'dataset');
  chainOptions(
    dataset
      .command('deploy')
      .description('Register an encrypted dataset on chain: its URL and checksum')
      .requiredOption('--name <name>', 'dataset name')
      .requiredOption('--url <url>', 'where the encrypted dataset is downloaded')
      .requiredOption(
        '--checksum <bytes32>',
        '0x + sha256 of the encrypted file (`sealwork dataset checksum`)',
      )
      .option('--owner <address>', 'owner of the dataset NFT (default: the wallet)'),
  ).action(
    action(async (ctx, o: ChainOpts & { name: string; url: string; checksum: string; owner?: Address }) => {
      const r = await (await loadSdkChainAssets()).deployDataset({ ...chainParams(ctx, o), ...o });
      ctx.out(r, [`dataset: ${r.address}`, `owner:   ${r.owner}`, `tx:      ${r.txHash}`]);
    }),
  );
  chainOptions(
    dataset.command('show').description('Show a dataset registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showDataset } = await loadSdkChainAssets();
      const r = await showDataset({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [
        `dataset:  ${r.address}`,
        `owner:    ${r.owner}`,
        `name:     ${r.name}`,
        `url:      ${r.multiaddr}`,
        `checksum: ${r.checksum}`,
      ]);
    }),
  );

  const pool = group(program, 'workerpool');
  chainOptions(
    pool
      .command('deploy')
      .description('Register a workerpool on chain')
      .requiredOption('--description <text>', 'workerpool description')
      .option('--owner <address>', 'owner of the workerpool NFT (default: the wallet)'),
  ).action(
    action(async (ctx, o: ChainOpts & { description: string; owner?: Address }) => {
      const r = await (await loadSdkChainAssets()).deployWorkerpool({ ...chainParams(ctx, o), ...o });
      ctx.out(r, [`workerpool: ${r.address}`, `owner:      ${r.owner}`, `tx:         ${r.txHash}`]);
    }),
  );
  chainOptions(
    pool.command('show').description('Show a workerpool registered on chain').argument('<address>'),
  ).action(
    action(async (ctx, o: ChainOpts, address: string) => {
      const { showWorkerpool } = await loadSdkChainAssets();
      const r = await showWorkerpool({ ...chainParams(ctx, o), address: address as Address });
      ctx.out(r, [`workerpool:  ${r.address}`, `owner:       ${r.owner}`, `description: ${r.description}`]);
    }),
  );
}
