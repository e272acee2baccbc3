#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    'sealwork: not built yet. Run `npm install` (or `npm run build`) in the checkout first.\n',
  );
  process.exit(70);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
