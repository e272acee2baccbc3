/**
 * The deal params (the request order's `params` JSON, stored in the deal): iExec's keys plus
 * sealwork's result key format. Encoded by the requester, read by the SMS (what to release) and by
 * the worker (how to wrap the result key).
 *
 *   iexec_args                  string     the app's arguments
 *   iexec_input_files           string[]   URLs fetched into /iexec_in
 *   iexec_secrets               {n: name}  requester secrets, as IEXEC_REQUESTER_SECRET_<n>
 *   iexec_result_encryption     boolean    encrypt the result to the beneficiary's key
 *   iexec_result_storage_provider string   "ipfs": store the result content-addressed as iExec does
 *   sealwork_result_key_format  "oaep-sha256" | "iexec"
 *                                          how the result key is wrapped. Without it (an iExec-style
 *                                          request, e.g. made by the iexec SDK, whose params schema
 *                                          refuses unknown keys) the worker uses iExec's RSA PKCS#1
 *                                          v1.5, which `utils.decryptResult` opens; sealwork's own
 *                                          requests ask for RSA-OAEP-SHA256, the stronger wrap.
 */

/** The key-wrap of `aes-key.rsa`: RSA-OAEP-SHA256 (opt-in) or iExec's RSA PKCS#1 v1.5. */
export type ResultKeyFormat = 'oaep-sha256' | 'iexec';

export interface DealParams {
  /** `iexec_args` ('' when none). */
  args: string;
  /** `iexec_input_files` URLs. */
  inputFiles: string[];
  /** `iexec_secrets`: requester secret names by index. */
  secrets: Record<string, string>;
  /** `iexec_result_encryption`. */
  resultEncryption: boolean;
  /** `sealwork_result_key_format`; `iexec` when the request does not say. */
  resultKeyFormat: ResultKeyFormat;
  /** `iexec_result_storage_provider` ('' when none). */
  storageProvider: string;
}

/**
 * The params JSON of a request order; keys left out when empty, as the iExec SDK does. An
 * encrypted result asks for RSA-OAEP-SHA256 unless `resultKeyFormat` is `iexec`.
 */
export function encodeDealParams(p: Partial<DealParams>): string {
  const params: Record<string, unknown> = {};
  if (p.args) params.iexec_args = p.args;
  if (p.secrets && Object.keys(p.secrets).length) params.iexec_secrets = p.secrets;
  if (p.inputFiles?.length) params.iexec_input_files = p.inputFiles;
  if (p.resultEncryption) {
    params.iexec_result_encryption = true;
    if (p.resultKeyFormat !== 'iexec') params.sealwork_result_key_format = 'oaep-sha256';
  }
  if (p.storageProvider) params.iexec_result_storage_provider = p.storageProvider;
  return JSON.stringify(params);
}

/** Read a deal's params; text that is not a JSON object means no params. */
export function parseDealParams(params: string): DealParams {
  let j: Record<string, unknown> = {};
  try {
    const v = JSON.parse(params || '{}') as unknown;
    if (v && typeof v === 'object') j = v as Record<string, unknown>;
  } catch {
    /* not JSON: no params */
  }
  const secrets: Record<string, string> = {};
  if (j.iexec_secrets && typeof j.iexec_secrets === 'object')
    for (const [k, v] of Object.entries(j.iexec_secrets as Record<string, unknown>))
      if (typeof v === 'string') secrets[k] = v;
  const format = j.sealwork_result_key_format;
  return {
    args: typeof j.iexec_args === 'string' ? j.iexec_args : '',
    inputFiles: Array.isArray(j.iexec_input_files)
      ? j.iexec_input_files.filter((x): x is string => typeof x === 'string')
      : [],
    secrets,
    resultEncryption: j.iexec_result_encryption === true || j.iexec_result_encryption === 'true',
    resultKeyFormat: format === 'oaep-sha256' || format === 'oaep' ? 'oaep-sha256' : 'iexec',
    storageProvider:
      typeof j.iexec_result_storage_provider === 'string' ? j.iexec_result_storage_provider : '',
  };
}
