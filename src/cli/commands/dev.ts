import type { Command } from 'commander';
import { runDatasetDemo } from '../../sdk/demo.js';
import { action } from '../context.js';

export function register(program: Command): void {
  program
    .command('dev')
    .description('Run the local demo (today: encrypt and decrypt a sample dataset)')
    .action(
      action(async (ctx) => {
        const steps = await runDatasetDemo({ home: ctx.home, onStep: (s) => ctx.info(`• ${s.detail}`) });
        ctx.out({ ok: true, steps }, 'demo finished: the dataset round trip is byte-identical');
      }),
    );
}
