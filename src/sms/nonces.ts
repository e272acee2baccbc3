/**
 * The nonces of attested sessions (`GET /tee/nonce`): fresh, short-lived, single use.
 *
 * In memory by default. With a shared key (several SMS processes behind one port) a nonce is
 * `random(16) ‖ expiry(8, ms) ‖ HMAC-SHA256(key, random ‖ expiry)[0:8]`, checkable by any process,
 * and single use is enforced by the store (`useNonce`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Hex } from 'viem';
import { SealworkError } from '../errors.js';
import type { SmsStore } from './store.js';

export interface NonceOptions {
  store: SmsStore;
  /** Lifetime (default 60 s). */
  ttlMs?: number;
  /** Max live in-memory nonces (default 100 000); the oldest goes first. */
  max?: number;
  /** Shared nonces' HMAC key. */
  key?: Uint8Array;
}

export interface Nonces {
  issue(): { nonce: Hex; expiresAt: string };
  /** Use a nonce up, whatever happens next; NONCE_INVALID if unknown, replayed or expired. */
  consume(nonce: Hex): Promise<void>;
  /** Forget the expired ones. */
  sweep(): Promise<void>;
}

const unknown = () =>
  new SealworkError(
    'NONCE_INVALID',
    'The nonce is unknown or was already used; get a fresh one from GET /tee/nonce.',
  );
const expired = () =>
  new SealworkError('NONCE_INVALID', 'The nonce has expired; get a fresh one from GET /tee/nonce.');

export function createNonces(o: NonceOptions): Nonces {
  const ttl = o.ttlMs ?? 60_000;
  return o.key ? sharedNonces(o.store, o.key, ttl) : memoryNonces(ttl, o.max ?? 100_000);
}

function memoryNonces(ttl: number, max: number): Nonces {
  const live = new Map<string, number>();
  const sweep = (now: number) => {
    for (const [n, exp] of live) if (exp <= now) live.delete(n);
  };
  return {
    issue() {
      const now = Date.now();
      if (live.size >= max) sweep(now);
      if (live.size >= max) {
        const oldest = live.keys().next().value;
        if (oldest) live.delete(oldest);
      }
      const nonce = `0x${randomBytes(32).toString('hex')}` as Hex;
      live.set(nonce, now + ttl);
      return { nonce, expiresAt: new Date(now + ttl).toISOString() };
    },
    async consume(nonce) {
      const key = nonce.toLowerCase();
      const exp = live.get(key);
      live.delete(key);
      if (exp === undefined) throw unknown();
      if (exp <= Date.now()) throw expired();
    },
    async sweep() {
      sweep(Date.now());
    },
  };
}

function sharedNonces(store: SmsStore, key: Uint8Array, ttl: number): Nonces {
  const mac = (body: Buffer) => createHmac('sha256', key).update(body).digest().subarray(0, 8);
  return {
    issue() {
      const exp = Date.now() + ttl;
      const body = Buffer.alloc(24);
      randomBytes(16).copy(body);
      body.writeBigUInt64BE(BigInt(exp), 16);
      return {
        nonce: `0x${body.toString('hex')}${mac(body).toString('hex')}` as Hex,
        expiresAt: new Date(exp).toISOString(),
      };
    },
    async consume(nonce) {
      const b = Buffer.from(nonce.slice(2), 'hex');
      if (b.length !== 32 || !timingSafeEqual(mac(b.subarray(0, 24)), b.subarray(24))) throw unknown();
      const exp = Number(b.readBigUInt64BE(16));
      if (exp <= Date.now()) throw expired(); // nothing to record
      if (!(await store.useNonce(nonce.toLowerCase(), exp))) throw unknown();
    },
    async sweep() {
      await store.deleteExpiredNonces(Date.now());
    },
  };
}
