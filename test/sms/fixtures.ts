/**
 * A small on-chain world for SMS tests and the benchmark: an app with a SCONE fingerprint, a
 * dataset, a workerpool, TEE deals and initialized tasks, on a real anvil.
 */
import { randomBytes } from 'node:crypto';
import { zeroAddress, type Address, type Hex } from 'viem';
import {
  TAG_TEE,
  createApp,
  createAppOrder,
  createDataset,
  createDatasetOrder,
  createRequestOrder,
  createWorkerpool,
  createWorkerpoolOrder,
  initializeTask,
  matchOrders,
  signAuthorization,
  signOrder,
} from '../../src/chain/index.js';
import { collateralToJson, type SimPlatform } from '../../src/attestation/index.js';
import {
  generateSessionKeyPair,
  sessionReportData,
  type SessionKeyPair,
  type SessionRequest,
} from '../../src/protocol/index.js';
import type { SmsClient } from '../../src/sms-client/index.js';
import { testClients, type TestChain, type TestRole } from '../helpers/chain.js';

export type Role = TestRole;

export interface World {
  roles: { appDev: Role; datasetOwner: Role; scheduler: Role; requester: Role; worker: Role; other: Role };
  app: Address;
  /** A second app whose fingerprint is not a SCONE one (no fingerprint). */
  dataset: Address;
  workerpool: Address;
  fingerprint: { mrenclave: string; fspfKey: string; fspfTag: string };
  mrenclaveJson: string;
  /** A TEE deal (volume n) with/without dataset; returns its dealid. */
  deal(o?: {
    withDataset?: boolean;
    tee?: boolean;
    volume?: number;
    params?: Record<string, unknown>;
    app?: Address;
  }): Promise<Hex>;
  /** Initialize task `index` of a deal (by the workerpool owner); returns the taskid. */
  initialize(dealid: Hex, index: number): Promise<Hex>;
  /** The scheduler's authorization for (worker, task, enclave challenge). */
  authorize(taskid: Hex, enclaveChallenge: Address, worker?: Address): Promise<Hex>;
  newApp(mrenclaveJson: string): Promise<Address>;
}

const hex = (n: number) => randomBytes(n).toString('hex');

export async function setupWorld(chain: TestChain): Promise<World> {
  const { role } = testClients(chain);
  const roles = {
    appDev: role(1),
    datasetOwner: role(2),
    scheduler: role(3),
    requester: role(4),
    worker: role(5),
    other: role(7),
  };
  const fingerprint = { mrenclave: hex(32), fspfKey: hex(32), fspfTag: hex(16) };
  const mrenclaveJson = JSON.stringify({
    framework: 'SCONE',
    version: 'v5',
    entrypoint: '/bin/sh /app/run.sh',
    heapSize: 1073741824,
    fingerprint: `${fingerprint.mrenclave}|${fingerprint.fspfKey}|${fingerprint.fspfTag}`,
  });
  const newApp = async (json: string) =>
    (
      await createApp(roles.appDev, {
        name: `app-${hex(4)}`,
        multiaddr: 'file:///images/app.tar',
        checksum: `0x${hex(32)}`,
        mrenclave: json,
      })
    ).address;
  const app = await newApp(mrenclaveJson);
  const dataset = (
    await createDataset(roles.datasetOwner, {
      name: 'data',
      multiaddr: 'https://storage.local/data.enc',
      checksum: `0x${hex(32)}`,
    })
  ).address;
  const workerpool = (await createWorkerpool(roles.scheduler, { description: 'pool' })).address;
  const dom = { chainId: chain.chainId, hub: chain.deployment.hub };

  return {
    roles,
    app,
    dataset,
    workerpool,
    fingerprint,
    mrenclaveJson,
    newApp,
    async deal(o = {}) {
      const tag = o.tee === false ? (`0x${'0'.repeat(64)}` as Hex) : TAG_TEE;
      const volume = BigInt(o.volume ?? 1);
      const appAddr = o.app ?? app;
      const a = await signOrder(
        roles.appDev.walletClient!,
        dom,
        'app',
        createAppOrder({ app: appAddr, volume, tag }),
      );
      const d = o.withDataset
        ? await signOrder(
            roles.datasetOwner.walletClient!,
            dom,
            'dataset',
            createDatasetOrder({ dataset, volume }),
          )
        : undefined;
      const w = await signOrder(
        roles.scheduler.walletClient!,
        dom,
        'workerpool',
        createWorkerpoolOrder({ workerpool, volume, tag }),
      );
      const r = await signOrder(
        roles.requester.walletClient!,
        dom,
        'request',
        createRequestOrder({
          app: appAddr,
          dataset: d ? dataset : zeroAddress,
          workerpool,
          requester: roles.requester.account.address,
          volume,
          tag,
          params: JSON.stringify(o.params ?? { iexec_args: 'hello world' }),
        }),
      );
      return (await matchOrders(roles.requester, { app: a, dataset: d, workerpool: w, request: r })).dealid;
    },
    async initialize(dealid, index) {
      return (await initializeTask(roles.scheduler, dealid, index)).taskid;
    },
    authorize(taskid, enclaveChallenge, worker = roles.worker.account.address) {
      return signAuthorization(roles.scheduler.account, { worker, taskid, enclaveChallenge });
    },
  };
}

/** A valid session request for a task (fresh nonce, quote binding a fresh session key). */
export async function sessionRequest(o: {
  client: SmsClient;
  platform: SimPlatform;
  world: World;
  taskId: Hex;
  dealId: Hex;
  taskIndex: number;
  challenge: Address;
}): Promise<{ req: SessionRequest; key: SessionKeyPair }> {
  const key = generateSessionKeyPair();
  const { nonce } = await o.client.getNonce();
  const worker = o.world.roles.worker.account.address;
  const signature = await o.world.authorize(o.taskId, o.challenge, worker);
  const q = await o.platform.quote({
    mrenclave: o.world.fingerprint.mrenclave,
    reportData: sessionReportData(key.publicJwk, nonce),
  });
  return {
    key,
    req: {
      authorization: {
        chainTaskId: o.taskId,
        dealId: o.dealId,
        taskIndex: o.taskIndex,
        workerWallet: worker,
        enclaveChallenge: o.challenge,
        signature,
      },
      quote: `0x${Buffer.from(q.quote).toString('hex')}`,
      collateral: collateralToJson(q.collateral),
      publicKey: key.publicJwk,
      nonce,
    },
  };
}

/** secp256k1's group order. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * The malleable twin of a (low-S) signature: s' = n - s and v flipped. ecrecover recovers the same
 * signer from it; OpenZeppelin's ECDSA (and so the hub) refuses it.
 */
export function highSTwin(sig: Hex): Hex {
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const v = parseInt(sig.slice(130), 16);
  return `${sig.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

/** The same r and s with another last byte `v`. */
export function withV(sig: Hex, v: number): Hex {
  return `${sig.slice(0, 130)}${v.toString(16).padStart(2, '0')}` as Hex;
}
