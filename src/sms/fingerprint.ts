/**
 * The SCONE app fingerprint as deployed on chain: `m_appMREnclave` is UTF-8 JSON
 * `{"framework":"SCONE","version","entrypoint","heapSize","fingerprint"}` and `fingerprint` is
 * `MrEnclave|FSPF_KEY|FSPF_TAG` (hex, 64|64|32 characters).
 */
export interface AppFingerprint {
  mrenclave: string;
  fspfKey: string;
  fspfTag: string;
  framework: string;
  version?: string;
  entrypoint?: string;
  heapSize?: number | string;
}

/** Parse the app's on-chain mrenclave JSON; undefined when it is not a SCONE fingerprint. */
export function parseAppMrEnclave(text: string): AppFingerprint | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!j || typeof j !== 'object' || typeof j.fingerprint !== 'string') return undefined;
  const m = /^([0-9a-fA-F]{64})\|([0-9a-fA-F]{64})\|([0-9a-fA-F]{32})$/.exec(j.fingerprint.trim());
  if (!m) return undefined;
  return {
    mrenclave: m[1]!.toLowerCase(),
    fspfKey: m[2]!.toLowerCase(),
    fspfTag: m[3]!.toLowerCase(),
    framework: typeof j.framework === 'string' ? j.framework : 'SCONE',
    ...(typeof j.version === 'string' ? { version: j.version } : {}),
    ...(typeof j.entrypoint === 'string' ? { entrypoint: j.entrypoint } : {}),
    ...(typeof j.heapSize === 'number' || typeof j.heapSize === 'string' ? { heapSize: j.heapSize } : {}),
  };
}
