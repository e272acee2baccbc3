/** `sealwork image`: sealwork's curated base images, built from Debian packages. */
import type { Command } from 'commander';
import { action } from '../context.js';

const sdkDevloop = () => import('../../sdk/enclave/devloop.js');

function baseCommand(image: Command): void {
  image
    .command('base')
    .description(
      "Build a minimal, reproducible base image from Debian packages (mmdebstrap, or the host's installed packages): python, node or shell",
    )
    .argument('<name>', 'python, node or shell')
    .option(
      '--builder <auto|mmdebstrap|host>',
      "auto: mmdebstrap when it is installed and reaches the mirror, else the host's packages",
      'auto',
    )
    .option(
      '--out <dir>',
      'OCI layout folder to write (default $SEALWORK_HOME/images/base/<name>, where FROM sealwork/<name> finds it)',
    )
    .action(
      action(async (ctx, o: { builder: string; out?: string }, name: string) => {
        const r = await (
          await sdkDevloop()
        ).buildBase({ name, home: ctx.home, builder: o.builder, out: o.out });
        if (r.fallbackReason) ctx.info(`note: built from the host's packages: ${r.fallbackReason}`);
        ctx.out(r, [
          `image:    ${r.ref} → ${r.out}`,
          `digest:   ${r.digest}`,
          `builder:  ${r.builder} (${r.ms} ms)`,
          `size:     ${(r.bytes / 1024 / 1024).toFixed(1)} MiB uncompressed, ${r.files} entries`,
          `packages: ${r.packages.join(' ')}`,
        ]);
      }),
    );
}

export function register(program: Command): void {
  const image = program
    .command('image')
    .description('Base images for enclave apps, built from Debian packages');
  baseCommand(image);
}
