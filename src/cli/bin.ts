// Entry used when running from source (tests, `node --import tsx src/cli/bin.ts`).
import { run } from './main.js';

process.exitCode = await run(process.argv);
