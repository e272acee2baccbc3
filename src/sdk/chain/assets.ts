/** Apps, datasets and workerpools on chain: deploy (create in the registry) and show. */
import { parseImageRef } from '../../enclave/registry.js';
import { promises as fs } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zeroHash, type Address, type Hex } from 'viem';
import { z } from 'zod';
import {
  createApp,
  createDataset,
  createWorkerpool,
  readApp,
  readDataset,
  readWorkerpool,
  type AppInfo,
  type DatasetInfo,
  type WorkerpoolInfo,
} from '../../chain/index.js';
import { SealworkError, fsError } from '../../errors.js';
import { appImageChecksum } from '../../worker/image.js';
import { connect, type ChainParameters } from './common.js';

const MrEnclaveSchema = z
  .object({
    framework: z.string().min(1),
    version: z.string().optional(),
    entrypoint: z.string().optional(),
    heapSize: z.number().int().nonnegative().optional(),
    fingerprint: z.string().min(1),
  })
  .loose();

/** Parse and validate the mrenclave JSON (inline JSON or `@file`); returns the compact UTF-8 JSON stored on chain. */
export async function loadMrEnclave(value: string): Promise<string> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = await fs.readFile(value.slice(1), 'utf8');
    } catch (e) {
      throw fsError(e, value.slice(1), 'read mrenclave file');
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SealworkError('APP_MRENCLAVE_INVALID', 'The mrenclave is not valid JSON.', {
      hint: 'Give {"framework":"SCONE","version","entrypoint","heapSize","fingerprint"} inline or as @file.',
      cause: e,
    });
  }
  const r = MrEnclaveSchema.safeParse(json);
  if (!r.success)
    throw new SealworkError(
      'APP_MRENCLAVE_INVALID',
      `The mrenclave JSON is invalid: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}.`,
      { hint: 'It needs at least "framework" (e.g. "SCONE") and "fingerprint".' },
    );
  return JSON.stringify(r.data);
}

function bytes32(v: string | undefined, what: string): Hex {
  if (v === undefined) return zeroHash;
  const h = v.startsWith('0x') ? v : `0x${v}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(h))
    throw new SealworkError('CHECKSUM_INVALID', `The ${what} is not 32 bytes of hex.`, {
      hint: 'Give 0x + 64 hex digits (e.g. from `sealwork dataset checksum`).',
    });
  return h.toLowerCase() as Hex;
}

export interface DeployAppParameters extends ChainParameters {
  name: string;
  /** Image URI (stored as `m_appMultiaddr`). */
  image: string;
  /** mrenclave JSON, inline or `@file`; omit for a standard (non-TEE) app. */
  mrenclave?: string;
  /**
   * Image digest (bytes32). Default: computed for a local image (a path or `file://` URL that
   * exists here: sha256 of an archive, the manifest digest of an OCI layout folder), else zero,
   * which workers refuse unless their operator allows it.
   */
  checksum?: string;
  type?: string;
  owner?: Address;
}

/**
 * The location and checksum to deploy an app image with. A local image (a path or `file://` URL
 * that exists here) gets its checksum computed when none is given, and a relative path becomes
 * absolute (a worker reads only absolute paths).
 */
export async function appImageDeployment(
  image: string,
  checksum?: string,
): Promise<{ multiaddr: string; checksum: Hex; checksumComputed: boolean }> {
  // A registry reference pinned by digest (`app push` prints it): the checksum is that digest.
  const ref = parseImageRef(image);
  if (ref?.digest && checksum === undefined)
    return { multiaddr: image, checksum: `0x${ref.digest.slice('sha256:'.length)}`, checksumComputed: true };
  let local: string | undefined;
  if (image.startsWith('file:')) {
    try {
      local = fileURLToPath(image);
    } catch {
      local = undefined;
    }
  } else if (!/^[a-z][a-z0-9+.-]*:/i.test(image)) local = image;
  const st = local !== undefined ? await fs.stat(local).catch(() => null) : null;
  const multiaddr =
    st && local !== undefined && !isAbsolute(image) && !image.startsWith('file:') ? resolve(local) : image;
  if (checksum !== undefined || !st || local === undefined)
    return { multiaddr, checksum: bytes32(checksum, 'app checksum'), checksumComputed: false };
  return { multiaddr, checksum: await appImageChecksum(local), checksumComputed: true };
}

export async function deployApp(p: DeployAppParameters): Promise<{
  address: Address;
  owner: Address;
  txHash: Hex;
  gasUsed: bigint;
  multiaddr: string;
  checksum: Hex;
  checksumComputed: boolean;
}> {
  const mrenclave = p.mrenclave ? await loadMrEnclave(p.mrenclave) : '';
  const { multiaddr, checksum, checksumComputed } = await appImageDeployment(p.image, p.checksum);
  const c = await connect(p, true);
  const r = await createApp(c, {
    name: p.name,
    multiaddr,
    mrenclave,
    checksum,
    type: p.type,
    owner: p.owner,
  });
  return {
    address: r.address,
    owner: p.owner ?? c.account!.address,
    txHash: r.txHash,
    gasUsed: r.gasUsed,
    multiaddr,
    checksum,
    checksumComputed,
  };
}

export async function showApp(p: ChainParameters & { address: Address }): Promise<AppInfo> {
  const c = await connect(p);
  return readApp(c.publicClient, p.address);
}

export interface DeployDatasetParameters extends ChainParameters {
  name: string;
  /** Where the encrypted dataset can be downloaded. */
  url: string;
  /** `0x` + sha256 of the encrypted file (`sealwork dataset checksum`). */
  checksum: string;
  owner?: Address;
}

export async function deployDataset(
  p: DeployDatasetParameters,
): Promise<{ address: Address; owner: Address; txHash: Hex; gasUsed: bigint }> {
  const checksum = bytes32(p.checksum, 'dataset checksum');
  const c = await connect(p, true);
  const r = await createDataset(c, { name: p.name, multiaddr: p.url, checksum, owner: p.owner });
  return { address: r.address, owner: p.owner ?? c.account!.address, txHash: r.txHash, gasUsed: r.gasUsed };
}

export async function showDataset(p: ChainParameters & { address: Address }): Promise<DatasetInfo> {
  const c = await connect(p);
  return readDataset(c.publicClient, p.address);
}

export async function deployWorkerpool(
  p: ChainParameters & { description: string; owner?: Address },
): Promise<{ address: Address; owner: Address; txHash: Hex; gasUsed: bigint }> {
  const c = await connect(p, true);
  const r = await createWorkerpool(c, { description: p.description, owner: p.owner });
  return { address: r.address, owner: p.owner ?? c.account!.address, txHash: r.txHash, gasUsed: r.gasUsed };
}

export async function showWorkerpool(p: ChainParameters & { address: Address }): Promise<WorkerpoolInfo> {
  const c = await connect(p);
  return readWorkerpool(c.publicClient, p.address);
}
