/**
 * Contract deployments recorded per chain in `$SEALWORK_HOME/chain/deployments.json` (keyed by
 * chain URL, each entry carrying its chain id). Deploying them: actions/deployContracts.ts.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { getChainId, getCode } from 'viem/actions';
import { SealworkError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Deployment, ReadClient } from './types.js';

export type { Deployment } from './types.js';

/** Folder of the chain state: `$SEALWORK_HOME/chain`. */
export function chainDir(home: string): string {
  return join(home, 'chain');
}

function deploymentsFile(home: string): string {
  return join(chainDir(home), 'deployments.json');
}

async function readAll(home: string): Promise<Deployment[]> {
  try {
    const j = JSON.parse(await fs.readFile(deploymentsFile(home), 'utf8')) as { deployments?: Deployment[] };
    return Array.isArray(j.deployments) ? j.deployments : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SealworkError('DEPLOYMENT_FILE_INVALID', `${deploymentsFile(home)} is not valid JSON.`, {
      hint: 'Remove it and run `sealwork chain deploy` again.',
      cause: e,
    });
  }
}

/** Record a deployment (replacing any previous one for the same URL + chain id). */
export async function saveDeployment(home: string, deployment: Deployment): Promise<void> {
  const all = (await readAll(home)).filter(
    (d) => !(d.chainId === deployment.chainId && d.url === deployment.url),
  );
  all.push(deployment);
  await writeFileAtomic(deploymentsFile(home), `${JSON.stringify({ deployments: all }, null, 2)}\n`, {
    force: true,
  });
}

/** Recorded deployments for a chain id (newest last). */
export async function listDeployments(home: string, chainId?: number): Promise<Deployment[]> {
  const all = await readAll(home);
  return chainId === undefined ? all : all.filter((d) => d.chainId === chainId);
}

/**
 * Find the deployment for a chain: the one recorded for this URL, else the newest one recorded
 * for the same chain id whose hub has code on this chain. Throws CHAIN_NOT_DEPLOYED.
 */
export async function findDeployment(
  home: string,
  url: string,
  publicClient: ReadClient,
): Promise<Deployment> {
  const chainId = await getChainId(publicClient);
  const candidates = (await listDeployments(home, chainId)).reverse();
  candidates.sort((a, b) => Number(b.url === url) - Number(a.url === url));
  for (const d of candidates) {
    const code = await getCode(publicClient, { address: d.hub });
    if (code && code !== '0x') return d;
  }
  throw new SealworkError(
    'CHAIN_NOT_DEPLOYED',
    `No sealwork contracts are recorded for the chain at ${url}.`,
    {
      hint: 'Run `sealwork chain deploy` (or `sealwork chain start` for the embedded chain).',
      details: { url, chainId },
    },
  );
}
