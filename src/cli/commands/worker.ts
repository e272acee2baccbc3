import type { Command } from 'commander';

/** Commands of this domain are registered here (see src/cli/commands/dataset.ts for the pattern). */
export function register(_program: Command): void {}
