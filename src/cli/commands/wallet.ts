/** `sealwork wallet`: create, import, show (keys never printed). */
import type { Command } from 'commander';
import { SealworkError } from '../../errors.js';
import { action, type CliContext } from '../context.js';
import { promptSecret } from '../terminal.js';

const sdk = () => import('../../sdk/chain/wallet.js');

async function newPassword(ctx: CliContext): Promise<string | undefined> {
  if (process.env.SEALWORK_WALLET_PASSWORD) return undefined; // the SDK reads it
  if (!ctx.interactive || !process.stdin.isTTY) return undefined; // the SDK explains what to do
  const a = await promptSecret('new wallet password: ');
  const b = await promptSecret('repeat password: ');
  if (a !== b)
    throw new SealworkError('WALLET_PASSWORD_MISMATCH', 'The two passwords differ.', { hint: 'Try again.' });
  return a;
}

function createCommand(wallet: Command): void {
  wallet
    .command('create')
    .description('Create a new key, stored encrypted (V3 keystore) in $SEALWORK_HOME/wallet/keystore.json')
    .option('--force', 'replace an existing wallet')
    .action(
      action(async (ctx, o: { force?: boolean }) => {
        const { createWallet } = await sdk();
        const r = await createWallet({ home: ctx.home, password: await newPassword(ctx), force: o.force });
        ctx.out(r, [`address:  ${r.address}`, `keystore: ${r.keystore}`]);
      }),
    );
}

function importCommand(wallet: Command): void {
  wallet
    .command('import')
    .description('Import a private key (prompted, or env SEALWORK_IMPORT_PRIVATE_KEY) or a V3 keystore file')
    .option(
      '--keystore <file>',
      'an existing V3 keystore (its password: prompted or SEALWORK_IMPORT_PASSWORD)',
    )
    .option('--force', 'replace an existing wallet')
    .action(
      action(async (ctx, o: { keystore?: string; force?: boolean }) => {
        const tty = ctx.interactive && process.stdin.isTTY;
        let privateKey: string | undefined;
        let keystorePassword: string | undefined;
        if (o.keystore) {
          keystorePassword =
            process.env.SEALWORK_IMPORT_PASSWORD ??
            (tty ? await promptSecret('keystore password: ') : undefined);
        } else {
          privateKey =
            process.env.SEALWORK_IMPORT_PRIVATE_KEY ??
            (tty ? await promptSecret('private key: ') : undefined);
        }
        const { importWallet } = await sdk();
        const r = await importWallet({
          home: ctx.home,
          privateKey,
          keystoreFile: o.keystore,
          keystorePassword,
          password: await newPassword(ctx),
          force: o.force,
        });
        ctx.out(r, [`address:  ${r.address}`, `keystore: ${r.keystore}`]);
      }),
    );
}

function showCommand(wallet: Command): void {
  wallet
    .command('show')
    .description('Show the wallet address (never the key)')
    .action(
      action(async (ctx) => {
        const r = await (await sdk()).showWallet({ home: ctx.home });
        ctx.out(r, [`address: ${r.address}`, `source:  ${r.source === 'keystore' ? r.keystore : r.source}`]);
      }),
    );
}

export function register(program: Command): void {
  const wallet = program.command('wallet').description('Wallets: create, import, show');
  createCommand(wallet);
  importCommand(wallet);
  showCommand(wallet);
}
