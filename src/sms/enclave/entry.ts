/** What the SMS enclave runs (main.ts): the in-enclave side of the launcher's protocol (launcher.ts). */
import { startSms, type StartSmsOptions } from '../start.js';
import type { SmsMeasurement } from './identity.js';

export interface EnclaveStartMessage {
  type: 'start';
  options: Omit<StartSmsOptions, 'logger'>;
  measurement: SmsMeasurement;
}

/** Wait for the launcher's start message, serve, report `ready` (or `failed`), stop on SIGTERM. */
export async function runEnclave(): Promise<void> {
  const start = await new Promise<EnclaveStartMessage>((resolve) => {
    const onMessage = (m: unknown) => {
      if (m && typeof m === 'object' && (m as { type?: string }).type === 'start') {
        process.off('message', onMessage);
        resolve(m as EnclaveStartMessage);
      }
    };
    process.on('message', onMessage);
  });
  try {
    const running = await startSms({ ...start.options, measurement: start.measurement });
    process.send?.({
      type: 'ready',
      url: running.url,
      port: running.port,
      certPath: running.certPath ?? null,
    });
    const stop = () => void running.close().finally(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('disconnect', stop);
  } catch (e) {
    const err = e as { code?: string; message?: string; hint?: string };
    process.send?.({
      type: 'failed',
      code: err.code ?? 'SMS_ENCLAVE_FAILED',
      message: err.message,
      hint: err.hint,
    });
    process.exitCode = 1;
    process.disconnect?.();
  }
}
