/**
 * The SCONE app fingerprint and the `mrenclave` JSON an app deploys on chain (`m_appMREnclave`,
 * UTF-8): `{"framework":"SCONE","version","entrypoint","heapSize","fingerprint"}`, where
 * `fingerprint` is `MrEnclave|FSPF_KEY|FSPF_TAG` (hex, 64|64|32 characters). The builder prints
 * it, the SMS releases by it, the worker refuses an image that does not match it.
 */
import { SealworkError } from '../errors.js';

export interface Fingerprint {
  /** 32 bytes, hex (64 characters). */
  mrenclave: string;
  /** 32 bytes, hex (64 characters). */
  fspfKey: string;
  /** 16 bytes, hex (32 characters). */
  fspfTag: string;
}

export function formatFingerprint(f: Fingerprint): string {
  return `${f.mrenclave}|${f.fspfKey}|${f.fspfTag}`;
}

const isHexOf = (s: string, bytes: number) => s.length === bytes * 2 && /^[0-9a-f]*$/.test(s);

/** Parse `MrEnclave|FSPF_KEY|FSPF_TAG` (hex, an optional 0x per part, case-insensitive); lowercase hex out. */
export function parseFingerprint(s: string): Fingerprint {
  const parts = String(s)
    .trim()
    .split('|')
    .map((p) => p.trim().toLowerCase().replace(/^0x/, ''));
  const fail = (what: string) =>
    new SealworkError('FINGERPRINT_INVALID', `Invalid fingerprint: ${what}.`, {
      hint: 'A fingerprint is MrEnclave|FSPF_KEY|FSPF_TAG in hex (64|64|32 characters), as printed by `sealwork app build`.',
    });
  if (parts.length !== 3) throw fail(`expected 3 parts separated by "|", found ${parts.length}`);
  const [mrenclave, fspfKey, fspfTag] = parts as [string, string, string];
  if (!isHexOf(mrenclave, 32)) throw fail('MrEnclave is not 64 hex characters');
  if (!isHexOf(fspfKey, 32)) throw fail('FSPF_KEY is not 64 hex characters');
  if (!isHexOf(fspfTag, 16)) throw fail('FSPF_TAG is not 32 hex characters');
  return { mrenclave, fspfKey, fspfTag };
}

/** The app's `m_appMREnclave` JSON (SCONE): how the enclave is named and run. */
export interface MrEnclave {
  framework: string;
  version?: string;
  entrypoint?: string;
  heapSize?: number;
  /** MrEnclave | FSPF key | FSPF tag, as SCONE fingerprints. */
  fingerprint?: string;
  [k: string]: unknown;
}

/** Parse `m_appMREnclave` (UTF-8 JSON); undefined when empty or not a JSON object. */
export function parseMrEnclave(raw: string): MrEnclave | undefined {
  if (!raw) return undefined;
  try {
    const j = JSON.parse(raw) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
    return j as MrEnclave;
  } catch {
    return undefined;
  }
}

/** An app's on-chain identity: its fingerprint and the rest of its mrenclave JSON. */
export interface AppFingerprint extends Fingerprint {
  framework: string;
  version?: string;
  entrypoint?: string;
  heapSize?: number | string;
}

/** The fingerprint of an app's on-chain mrenclave JSON; undefined when it holds no SCONE fingerprint. */
export function parseAppMrEnclave(text: string): AppFingerprint | undefined {
  const j = parseMrEnclave(text);
  if (!j || typeof j.fingerprint !== 'string') return undefined;
  let fp: Fingerprint;
  try {
    fp = parseFingerprint(j.fingerprint);
  } catch {
    return undefined;
  }
  const heapSize = j.heapSize as unknown;
  return {
    ...fp,
    framework: typeof j.framework === 'string' ? j.framework : 'SCONE',
    ...(typeof j.version === 'string' ? { version: j.version } : {}),
    ...(typeof j.entrypoint === 'string' ? { entrypoint: j.entrypoint } : {}),
    ...(typeof heapSize === 'number' || typeof heapSize === 'string' ? { heapSize } : {}),
  };
}
