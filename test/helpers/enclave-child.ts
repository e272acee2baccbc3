/**
 * Runs one enclave app in a child process (for tests that kill the runner): the parameters of
 * runEnclave come as JSON in argv[2]; the result is printed as JSON.
 */
import { runEnclave } from '../../src/enclave/index.js';

const params = JSON.parse(process.argv[2]!) as Parameters<typeof runEnclave>[0];
const r = await runEnclave(params);
process.stdout.write(JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout }));
