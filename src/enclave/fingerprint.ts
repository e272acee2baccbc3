/** The application fingerprint: `MrEnclave|FSPF_KEY|FSPF_TAG`, lowercase hex. */
import { SealworkError } from '../errors.js';
import { isHex } from './util.js';

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

/** Parse `MrEnclave|FSPF_KEY|FSPF_TAG` (hex, an optional 0x per part, case-insensitive). */
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
  if (!isHex(mrenclave, 32)) throw fail('MrEnclave is not 64 hex characters');
  if (!isHex(fspfKey, 32)) throw fail('FSPF_KEY is not 64 hex characters');
  if (!isHex(fspfTag, 16)) throw fail('FSPF_TAG is not 32 hex characters');
  return { mrenclave, fspfKey, fspfTag };
}
