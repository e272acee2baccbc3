import { defineCodes } from './define.js';

/** Dataset encryption (iExec format: AES-256-CBC, base64 key). */
export const CRYPTO_CODES = defineCodes('crypto', {
  DATASET_KEY_INVALID: ['A dataset key is not the base64 encoding of 32 bytes.', 400],
  DATASET_TRUNCATED: 'The file is too short, or not a multiple of 16 bytes, for an encrypted dataset.',
  DATASET_DECRYPT_FAILED: 'The dataset does not decrypt: wrong key or corrupted file.',
});
