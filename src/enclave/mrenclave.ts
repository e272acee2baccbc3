/**
 * MrEnclave, computed the way SGX does (Intel SDM vol. 3D §39/§40, "ECREATE/EADD/EEXTEND"): a
 * SHA-256 over 64-byte records, one per enclave-building instruction, in build order.
 *
 *   ECREATE  "ECREATE\0" ‖ SSAFRAMESIZE u32le ‖ SIZE u64le ‖ 44 zero bytes
 *   EADD     "EADD\0\0\0\0" ‖ OFFSET u64le ‖ SECINFO.FLAGS u64le ‖ 40 zero bytes
 *   EEXTEND  "EEXTEND\0" ‖ OFFSET u64le ‖ 48 zero bytes, then the 256 bytes measured (4 blocks)
 *
 * Pages, in order: every 4 KiB page of the measured executable (the entrypoint's binary, or for a
 * script its interpreter), at offsets 0, 4096, …, the last one zero-padded, with SECINFO R|X
 * (PT_REG); then one configuration page (SECINFO R, PT_REG) right after the code, holding:
 *
 *   "SCONECFG" ‖ format u32le (=1) ‖ flags u32le (bit 0 = debug) ‖ heap u64le ‖ stack u64le ‖
 *   threads u32le ‖ L u32le ‖ entrypoint argv joined by NUL (L bytes, UTF-8) ‖ zeros to 4096
 *
 * An app with a network shield allowlist (`egress`, see egress-list.ts) has format 2: after the
 * argv come E u32le ‖ the sorted `host:port` entries joined by NUL (E bytes). Format 1 (no
 * egress: no network) is unchanged, so apps without egress keep their MrEnclave.
 *
 * Every page is EADDed then EEXTENDed in 16 chunks of 256 bytes. SIZE (the enclave's virtual size)
 * is the next power of two ≥ code + config page + heap + threads × (stack + TCS page + 2 SSA pages).
 * Heap and stack pages are not added page by page (that would be gigabytes of records); their
 * sizes enter through SIZE and the configuration page. See docs/enclave.md for a worked example.
 */
import { createHash } from 'node:crypto';
import { SealworkError } from '../errors.js';

export const PAGE = 4096;
const SSA_FRAME_PAGES = 1;
const NSSA = 2;
const SI_R = 0x1n;
const SI_X = 0x4n;
const PT_REG = 0x2n << 8n;

export interface EnclaveConfig {
  /** The entrypoint command, as argv. */
  entrypoint: string[];
  heapSize: number;
  stackSize: number;
  threads: number;
  debug: boolean;
  /** Network shield destinations (`host:port`, normalized and sorted); absent or empty: no network. */
  egress?: string[];
}

function record(tag: string): Buffer {
  const r = Buffer.alloc(64);
  r.write(tag, 0, 'latin1');
  return r;
}

/** The 4 KiB configuration page described above. */
export function configPage(c: EnclaveConfig): Buffer {
  const page = Buffer.alloc(PAGE);
  const argv = Buffer.from(c.entrypoint.join('\0'), 'utf8');
  const egress = c.egress?.length ? Buffer.from(c.egress.join('\0'), 'utf8') : undefined;
  if (egress && 44 + argv.length + egress.length > PAGE)
    throw new SealworkError(
      'ENCLAVE_CONFIG_INVALID',
      `The entrypoint and the egress list take ${argv.length + egress.length} bytes; at most ${PAGE - 44} fit in the configuration page.`,
      { hint: 'Shorten the entrypoint or the list of egress destinations.' },
    );
  if (40 + argv.length > PAGE)
    throw new SealworkError(
      'ENTRYPOINT_TOO_LONG',
      `The entrypoint is ${argv.length} bytes; at most ${PAGE - 40} fit in the configuration page.`,
      {
        hint: 'Shorten the entrypoint command (move arguments into a script).',
      },
    );
  page.write('SCONECFG', 0, 'latin1');
  page.writeUInt32LE(egress ? 2 : 1, 8);
  page.writeUInt32LE(c.debug ? 1 : 0, 12);
  page.writeBigUInt64LE(BigInt(c.heapSize), 16);
  page.writeBigUInt64LE(BigInt(c.stackSize), 24);
  page.writeUInt32LE(c.threads, 32);
  page.writeUInt32LE(argv.length, 36);
  argv.copy(page, 40);
  if (egress) {
    page.writeUInt32LE(egress.length, 40 + argv.length);
    egress.copy(page, 44 + argv.length);
  }
  return page;
}

/** The enclave's virtual size (ECREATE SIZE): a power of two. */
export function enclaveSize(codeBytes: number, c: EnclaveConfig): bigint {
  const code = BigInt(Math.ceil(codeBytes / PAGE) * PAGE);
  const perThread = BigInt(c.stackSize) + BigInt(PAGE * (1 + SSA_FRAME_PAGES * NSSA));
  const need = code + BigInt(PAGE) + BigInt(c.heapSize) + BigInt(c.threads) * perThread;
  let size = 1n;
  while (size < need) size <<= 1n;
  return size;
}

function validate(c: EnclaveConfig): void {
  const bad = (what: string) =>
    new SealworkError('ENCLAVE_CONFIG_INVALID', `Invalid enclave configuration: ${what}.`, {
      hint: 'Check --heap, --stack, --threads and --entrypoint.',
    });
  if (c.entrypoint.length === 0 || c.entrypoint[0] === '') throw bad('empty entrypoint');
  if (!Number.isSafeInteger(c.heapSize) || c.heapSize < PAGE) throw bad('heap below 4 KiB');
  if (!Number.isSafeInteger(c.stackSize) || c.stackSize < PAGE) throw bad('stack below 4 KiB');
  if (!Number.isInteger(c.threads) || c.threads < 1 || c.threads > 4096) throw bad('threads outside 1..4096');
}

/** MrEnclave (hex, 64 characters) of `binary` run with configuration `c`. */
export function computeMrEnclave(binary: Uint8Array, c: EnclaveConfig): string {
  validate(c);
  const h = createHash('sha256');
  const ecreate = record('ECREATE');
  ecreate.writeUInt32LE(SSA_FRAME_PAGES, 8);
  ecreate.writeBigUInt64LE(enclaveSize(binary.length, c), 12);
  h.update(ecreate);

  // One buffer per page: the EADD record, then 16 × (EEXTEND record ‖ 256 bytes), hashed at once.
  const buf = Buffer.alloc(64 + 16 * (64 + 256));
  buf.write('EADD', 0, 'latin1');
  for (let i = 0; i < 16; i++) buf.write('EEXTEND', 64 + i * 320, 'latin1');
  const addPage = (offset: number, page: Uint8Array, flags: bigint) => {
    buf.writeBigUInt64LE(BigInt(offset), 8);
    buf.writeBigUInt64LE(flags, 16);
    for (let i = 0; i < 16; i++) {
      const at = 64 + i * 320;
      buf.writeBigUInt64LE(BigInt(offset + i * 256), at + 8);
      buf.set(page.subarray(i * 256, (i + 1) * 256), at + 64);
    }
    h.update(buf);
  };

  const pages = Math.ceil(binary.length / PAGE);
  for (let p = 0; p < pages; p++) {
    let page = binary.subarray(p * PAGE, (p + 1) * PAGE);
    if (page.length < PAGE) {
      const padded = Buffer.alloc(PAGE);
      padded.set(page);
      page = padded;
    }
    addPage(p * PAGE, page, SI_R | SI_X | PT_REG);
  }
  addPage(pages * PAGE, configPage(c), SI_R | PT_REG);
  return h.digest('hex');
}
