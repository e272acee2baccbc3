import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { SealworkError, docsPathOf } from '../errors.js';
import { registerAll } from './commands/index.js';
import { jsonReplacer } from './context.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('sealwork')
    .description('Confidential computing as iExec does it with SCONE (simulation mode: no SGX on this host)')
    .version(pkg.version)
    .option('--json', 'machine-readable output on stdout')
    .option('--home <dir>', 'state folder (env SEALWORK_HOME, default ~/.sealwork)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerAll(program);
  // Subcommands inherit exitOverride and error output settings.
  const apply = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(apply);
  };
  program.commands.forEach(apply);
  return program;
}

/** Run the CLI; returns the exit status. Never prints a stack trace for a user error. */
export async function run(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command may set an exit status of its own (e.g. `app exec` returns the app's).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help / the usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof SealworkError) {
      if (json) process.stdout.write(`${JSON.stringify({ error: e.toJSON() }, jsonReplacer, 2)}\n`);
      else process.stderr.write(`error [${e.code}]: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    if (json) {
      const message = String(err?.message ?? err);
      const error = { code: 'INTERNAL', message, docsPath: docsPathOf('INTERNAL') };
      process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    } else {
      process.stderr.write(`internal error: ${err?.message ?? err}\n`);
      if (process.env.SEALWORK_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
      else process.stderr.write('(this is a bug in sealwork; rerun with SEALWORK_DEBUG=1 for details)\n');
    }
    return 70;
  }
}
