/**
 * Errors are classified by code, class, errno or a structured field, never by their message text:
 * the worker's transient failures, the SMS client's untrusted TLS certificate, and the SMS
 * verifier's untrusted root.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpRequestError, TimeoutError } from 'viem';
import { collateralToJson, openSimPlatform } from '../../src/attestation/index.js';
import { SealworkError, isSealworkError } from '../../src/errors.js';
import { createAttestationVerifier } from '../../src/sms/attestation-adapter.js';
import { isTlsTrustError, createSmsClient as smsClient } from '../../src/sms-client/index.js';
import { isTransient } from '../../src/worker/worker.js';
import { tempDir } from '../helpers/cli.js';

const errno = (code: string, message = `connect ${code} 127.0.0.1:1`) =>
  Object.assign(new Error(message), { code });

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('worker: transient failures, by code, class and errno', () => {
  it('a SealworkError is transient by its code only', () => {
    for (const code of ['SMS_UNREACHABLE', 'CHAIN_UNREACHABLE', 'RESULT_UPLOAD_FAILED'] as const)
      assert.equal(isTransient(new SealworkError(code, 'x')), true, code);
    assert.equal(isTransient(new SealworkError('APP_EXIT_NONZERO', 'x')), false);
    // a message that reads like a network failure does not make a task failure transient
    assert.equal(isTransient(new SealworkError('APP_EXIT_NONZERO', 'fetch failed: ECONNREFUSED')), false);
  });

  it('a real failed fetch (undici TypeError, errno in its cause) is transient', async () => {
    const port = await closedPort();
    const e = await fetch(`http://127.0.0.1:${port}/`).then(
      () => assert.fail('nothing listens there'),
      (x: unknown) => x,
    );
    assert.equal(isTransient(e), true, String(e));
  });

  it('socket errno codes anywhere in the causes, AggregateError members, viem HTTP and timeout errors', () => {
    assert.equal(isTransient(errno('ECONNRESET', 'socket hang up')), true);
    assert.equal(isTransient(new Error('step failed', { cause: errno('ECONNREFUSED') })), true);
    assert.equal(isTransient(new AggregateError([errno('ECONNREFUSED')], 'all addresses failed')), true);
    assert.equal(isTransient(new TypeError('fetch failed', { cause: errno('UND_ERR_SOCKET') })), true);
    assert.equal(isTransient(new HttpRequestError({ url: 'http://127.0.0.1:8545' })), true);
    assert.equal(isTransient(new TimeoutError({ body: {}, url: 'http://127.0.0.1:8545' })), true);
    assert.equal(
      isTransient(new Error('wrapped', { cause: new HttpRequestError({ url: 'http://x' }) })),
      true,
    );
  });

  it('the message text alone no longer decides (it used to, by regex)', () => {
    for (const m of ['fetch failed', 'ECONNREFUSED', 'socket hang up', 'HTTP request failed', 'timed out'])
      assert.equal(isTransient(new Error(m)), false, m);
    assert.equal(isTransient(errno('ENOENT', 'no such file')), false);
    assert.equal(isTransient(undefined), false);
  });
});

describe('SMS client: an untrusted certificate, by errno code', () => {
  const t = tempDir();
  let server: Server;
  let url: string;
  before(async () => {
    const key = join(t.dir, 'key.pem');
    const cert = join(t.dir, 'cert.pem');
    execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ok"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    t.cleanup();
  });

  it('a self-signed certificate is SMS_TLS_UNTRUSTED', async () => {
    await assert.rejects(smsClient(url).health(), (e: unknown) => {
      assert.ok(isSealworkError(e, 'SMS_TLS_UNTRUSTED'), String(e));
      assert.equal(typeof (e.cause as NodeJS.ErrnoException).code, 'string');
      return true;
    });
  });

  it('a closed port is SMS_UNREACHABLE', async () => {
    const port = await closedPort();
    await assert.rejects(smsClient(`https://127.0.0.1:${port}`).health(), (e: unknown) =>
      isSealworkError(e, 'SMS_UNREACHABLE'),
    );
  });

  it('isTlsTrustError reads the errno code, not the message', () => {
    assert.equal(isTlsTrustError(errno('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')), true);
    assert.equal(isTlsTrustError(errno('ERR_TLS_CERT_ALTNAME_INVALID', 'altname')), true);
    assert.equal(isTlsTrustError(new Error('self-signed certificate')), false);
    assert.equal(isTlsTrustError(errno('ECONNREFUSED', 'certificate server down')), false);
  });
});

describe('SMS verifier: an untrusted root, by a flag of the chain check', () => {
  const t = tempDir();
  after(() => t.cleanup());

  it('QUOTE_ROOT_UNTRUSTED for a quote under a root the SMS does not trust; QUOTE_INVALID when tampered', async () => {
    const trusted = await openSimPlatform(join(t.dir, 'trusted'));
    const stranger = await openSimPlatform(join(t.dir, 'stranger'));
    const verifier = createAttestationVerifier({
      simulationRoot: trusted.trustedRoot,
      policy: { allowSimulation: true },
    });
    const params = { mrenclave: 'ab'.repeat(32), reportData: '00'.repeat(64) };

    const good = await trusted.quote(params);
    const ok = await verifier.verify(good.quote, collateralToJson(good.collateral));
    assert.equal(ok.ok, true, JSON.stringify(ok));

    const foreign = await stranger.quote(params);
    const untrusted = await verifier.verify(foreign.quote, collateralToJson(foreign.collateral));
    assert.equal(untrusted.ok, false);
    assert.equal(!untrusted.ok && untrusted.code, 'QUOTE_ROOT_UNTRUSTED');

    const tampered = Buffer.from(good.quote);
    tampered[100] = tampered[100]! ^ 0xff;
    const bad = await verifier.verify(tampered, collateralToJson(good.collateral));
    assert.equal(!bad.ok && bad.code, 'QUOTE_INVALID');
  });
});
