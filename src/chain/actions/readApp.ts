import type { Address, Hex } from 'viem';
import { readContract } from 'viem/actions';
import { appAbi } from '../generated/app.js';
import { parseMrEnclave } from '../../protocol/index.js';
import type { AppInfo, ReadClient } from '../types.js';
import { assertAddress, bytesText, hasCode, notAsset, notFound } from './internal/asset.js';

// The mrenclave JSON parser is a protocol rule (src/protocol/fingerprint.ts).
export { parseMrEnclave } from '../../protocol/index.js';

/** An app's getters: owner, registry, name, type, image URI and checksum, mrenclave (raw and parsed). */
export async function readApp(client: ReadClient, address: Address): Promise<AppInfo> {
  assertAddress(address, 'app');
  if (!(await hasCode(client, address))) throw notFound('app', address);
  try {
    const r = (
      functionName:
        | 'owner'
        | 'registry'
        | 'm_appName'
        | 'm_appType'
        | 'm_appMultiaddr'
        | 'm_appChecksum'
        | 'm_appMREnclave',
    ) => readContract(client, { address, abi: appAbi, functionName });
    const [owner, registry, name, type, multiaddr, checksum, mrenclave] = await Promise.all([
      r('owner'),
      r('registry'),
      r('m_appName'),
      r('m_appType'),
      r('m_appMultiaddr'),
      r('m_appChecksum'),
      r('m_appMREnclave'),
    ]);
    const raw = bytesText(mrenclave as Hex);
    return {
      address,
      owner: owner as Address,
      registry: registry as Address,
      name: name as string,
      type: type as string,
      multiaddr: bytesText(multiaddr as Hex),
      checksum: checksum as Hex,
      mrenclave: raw,
      enclave: parseMrEnclave(raw),
    };
  } catch (e) {
    throw notAsset('app', address, e);
  }
}
