/**
 * docs/error-codes.md is generated from src/ by scripts/error-codes.ts; these tests run the real
 * generator (as a child process) and fail when the committed catalogue is stale or a known code is
 * no longer found where it is raised.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, tempDir } from '../helpers/cli.js';

const SCRIPT = join(ROOT, 'scripts', 'error-codes.ts');
const DOC = join(ROOT, 'docs', 'error-codes.md');

function generator(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Entry {
  code: string;
  domain: string;
  message: string;
  files: string[];
}

describe('error-code catalogue', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('the committed docs/error-codes.md is what the generator writes now', () => {
    const r = generator('--check');
    assert.equal(r.code, 0, `generator --check failed:\n${r.stderr}`);
    assert.match(r.stdout, /docs\/error-codes\.md is up to date \(\d+ codes\)/);
  });

  it('--check exits 1 and prints the difference when the file is stale', () => {
    const doc = readFileSync(DOC, 'utf8');
    const line = doc.split('\n').find((l) => l.startsWith('| `QUOTE_MALFORMED`'));
    assert.ok(line, 'QUOTE_MALFORMED row in docs/error-codes.md');
    const stale = join(tmp.dir, 'stale.md');
    writeFileSync(stale, doc.replace(`${line}\n`, ''));
    const r = generator('--check', '--file', stale);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is out of date/);
    assert.ok(r.stderr.includes(`+ ${line}`), 'the missing row is printed as an addition');
  });

  it('finds known codes of every pattern, under their domain', () => {
    const r = generator('--json');
    assert.equal(r.code, 0, r.stderr);
    const { entries, passThrough } = JSON.parse(r.stdout) as {
      entries: Entry[];
      passThrough: { file: string; expression: string }[];
    };
    const find = (code: string, domain: string) =>
      entries.find((e) => e.code === code && e.domain === domain);
    const expected: [code: string, domain: string, how: string][] = [
      ['DATASET_DECRYPT_FAILED', 'crypto', 'new SealworkError literal'],
      ['FILE_NOT_FOUND', 'crypto', 'fsError factory, counted at its caller'],
      ['OUTPUT_EXISTS', 'enclave', 'fsError factory'],
      ['OUTPUT_EXISTS', 'util', 'new SealworkError literal'],
      ['FSPF_FILE_CHANGED', 'enclave', 'CODES[kind] table'],
      ['FS_KEY_WRONG', 'enclave', 'CODES[kind] table'],
      ['LAYER_SYMLINK_ESCAPE', 'enclave', 'layerError(code, msg) helper'],
      ['PATH_TRAVERSAL', 'enclave', 'imagePath(name, code = default)'],
      ['QUOTE_MALFORMED', 'attestation', 'new SealworkError literal'],
      ['ORDER_RESTRICTED', 'chain', 'CHAIN_ERROR_MESSAGES table'],
      ['WALLET_MISSING', 'chain', 'walletMissingError()'],
      ['TASK_NOT_ACTIVE', 'sms', 'Refusal class / HTTP error body'],
      ['TASK_MISMATCH', 'sms', 'Refusal class'],
      ['QUOTE_ROOT_UNTRUSTED', 'sms', 'verifier verdict object (conditional)'],
      ['SECRET_EXISTS', 'sms', 'conditional code in SMS client'],
      ['SMS_HTTP_…', 'sms', 'template code'],
      ['APP_IMAGE_TAMPERED', 'worker', 'new SealworkError literal'],
      ['RESULT_UPLOAD_FAILED', 'worker', 'stage(code, what, f) helper'],
      ['TASK_FAILED_ON_CHAIN', 'worker', 'journal cause object'],
      ['WATCH_TIMEOUT_INVALID', 'cli', 'new SealworkError literal'],
      ['VOLUME_INVALID', 'sdk', 'new SealworkError literal'],
    ];
    for (const [code, domain, how] of expected)
      assert.ok(find(code, domain), `${code} in ${domain} (${how})`);

    // messages: literals kept, interpolations rendered as …, helper arguments substituted
    assert.equal(find('QUOTE_MALFORMED', 'attestation')!.message, 'Malformed quote: ….');
    assert.equal(find('ORDER_RESTRICTED', 'chain')!.message, 'The … restricts … to …; this match uses … ….');
    assert.match(find('RESULT_UPLOAD_FAILED', 'worker')!.message, /^uploading the result: /);
    assert.match(find('OUTPUT_EXISTS', 'util')!.message, /already exists/);
    assert.deepEqual(find('FSPF_FILE_CHANGED', 'enclave')!.files, ['src/enclave/fspf.ts']);

    // every entry is a SCREAMING_SNAKE code in a known domain, raised from files that exist
    const domains = [
      'attestation',
      'chain',
      'cli',
      'core',
      'crypto',
      'enclave',
      'sdk',
      'sms',
      'util',
      'worker',
    ];
    for (const e of entries) {
      assert.match(e.code, /^[A-Z][A-Z0-9_]*(…)?$/, e.code);
      assert.ok(domains.includes(e.domain), `${e.code}: domain ${e.domain}`);
      assert.ok(
        e.files.length > 0 && e.files.every((f) => existsSync(join(ROOT, f))),
        `${e.code}: ${e.files}`,
      );
    }
    // sorted by domain then code, no duplicate row
    const keys = entries.map((e) => `${e.domain} ${e.code}`);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(new Set(keys).size, keys.length);
    // codes read from another error are listed as pass-through, not as codes
    assert.ok(passThrough.some((p) => p.file === 'src/worker/worker.ts' && p.expression === 'd.code'));
    assert.ok(!entries.some((e) => e.code === 'custom'), 'zod issue codes are not sealwork codes');
  });

  it('every code in the document is one the generator finds', () => {
    const r = generator('--json');
    const codes = new Set((JSON.parse(r.stdout) as { entries: Entry[] }).entries.map((e) => e.code));
    const doc = readFileSync(DOC, 'utf8');
    const inDoc = new Set([...doc.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!));
    assert.deepEqual([...inDoc].sort(), [...codes].sort());
  });
});
