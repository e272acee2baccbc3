/** sealwork SDK: the functions the CLI is built on, usable as a library. */
export { SealworkError, isSealworkError } from '../errors.js';
export * from './dataset.js';
export * from './chain/index.js';
export * from './attestation/index.js';
export * from './enclave/index.js';
export * from './worker/index.js';
export * from './sms/index.js';
export * from './sms/service.js';
export * from './sms/enclave.js';
export { resolveHome } from './home.js';
export {
  generateDatasetKey,
  parseDatasetKey,
  encryptDatasetBuffer,
  decryptDatasetBuffer,
  checksumBuffer,
} from '../crypto/dataset.js';
