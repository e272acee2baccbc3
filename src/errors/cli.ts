import { defineCodes } from './define.js';

/** Command-line options and outcomes of the `sealwork` commands. */
export const CLI_CODES = defineCodes('cli', {
  PORT_INVALID: 'A --port option is not a TCP port number.',
  LOG_LEVEL_INVALID: '--log-level is not one of the known levels.',
  WORKERS_INVALID: '--workers is not a number of processes from 1 to 64.',
  RESULT_KEY_FORMAT_INVALID: '--result-key-format is not a known format.',
  SECRET_MAPPING_INVALID: 'A --secret mapping cannot be read.',
  SECRET_MISSING: 'No secret value was given (option, file or standard input).',
  WALLET_PASSWORD_MISMATCH: 'The password and its confirmation differ.',
  APP_FAILED: '`app exec`: the app exited with a non-zero status.',
  APP_TIMED_OUT: '`app exec`: the app was killed at its timeout.',
  TASK_FAILED: '`app run` / `task watch`: one or more tasks did not complete.',
  BUILD_OPTIONS_REQUIRED:
    '`app build` from an image needs --entrypoint and --out (an app folder needs neither).',
});
