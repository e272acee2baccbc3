/** The one SMS endpoint resolver (src/sms-client/resolveSmsEndpoint.ts), used by the worker, the SDK and the CLI. */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSmsEndpoint } from '../../src/sms-client/index.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('resolveSmsEndpoint', () => {
  let home: string;
  let envCa: string;
  before(async () => {
    home = await fs.mkdtemp(join(tmpdir(), 'sealwork-sms-endpoint-'));
    await fs.mkdir(join(home, 'sms'), { recursive: true });
    await fs.writeFile(join(home, 'sms', 'cert.pem'), PEM);
    await fs.writeFile(
      join(home, 'sms', 'sms.json'),
      JSON.stringify({
        url: 'https://127.0.0.1:13300',
        pid: 1,
        certPath: join(home, 'sms', 'cert.pem'),
        startedAt: '',
      }),
    );
    envCa = join(home, 'env-ca.pem');
    await fs.writeFile(envCa, PEM.replace('MIIB', 'MIIC'));
  });
  after(() => fs.rm(home, { recursive: true, force: true }));

  it('defaults to the SMS recorded under the home, with its certificate', async () => {
    const e = await resolveSmsEndpoint({ home, env: {} });
    assert.equal(e.url, 'https://127.0.0.1:13300');
    assert.equal(e.ca, PEM);
    assert.equal(e.caPath, join(home, 'sms', 'cert.pem'));
  });

  it('honours SEALWORK_SMS_URL and SEALWORK_SMS_CA (the worker path included)', async () => {
    const e = await resolveSmsEndpoint({
      home,
      env: { SEALWORK_SMS_URL: 'https://sms.example:443', SEALWORK_SMS_CA: envCa },
    });
    assert.deepEqual(e, { url: 'https://sms.example:443', ca: PEM.replace('MIIB', 'MIIC'), caPath: envCa });
    // Another URL than the recorded SMS's does not get the recorded certificate.
    assert.deepEqual(await resolveSmsEndpoint({ home, env: { SEALWORK_SMS_URL: 'https://other:1' } }), {
      url: 'https://other:1',
    });
  });

  it('options win over the environment; a certificate may be PEM text', async () => {
    const e = await resolveSmsEndpoint({
      home,
      smsUrl: 'https://opt:2',
      smsCa: PEM,
      env: { SEALWORK_SMS_URL: 'https://sms.example:443', SEALWORK_SMS_CA: envCa },
    });
    assert.deepEqual(e, { url: 'https://opt:2', ca: PEM });
  });

  it('SMS_NOT_CONFIGURED without an option, a variable or a recorded SMS', async () => {
    const empty = await fs.mkdtemp(join(tmpdir(), 'sealwork-sms-endpoint-'));
    await assert.rejects(resolveSmsEndpoint({ home: empty, env: {} }), { code: 'SMS_NOT_CONFIGURED' });
    await fs.rm(empty, { recursive: true, force: true });
  });

  it('the worker resolves its SMS with it (startWorker reads no other endpoint)', async () => {
    const src = await fs.readFile(new URL('../../src/sdk/worker/worker.ts', import.meta.url), 'utf8');
    assert.match(src, /resolveSmsEndpoint\(/);
    assert.doesNotMatch(src, /readSmsRecord/);
  });
});
