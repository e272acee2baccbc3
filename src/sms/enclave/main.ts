/**
 * The SMS enclave's entry point: the module esbuild bundles (measure.ts) and the launcher runs
 * inside the sandbox. It waits for the launcher's start message (its identity and configuration,
 * the simulation of EREPORT), starts the SMS, reports where it listens, and stops on SIGTERM.
 */
import { runEnclave } from './entry.js';

await runEnclave();
