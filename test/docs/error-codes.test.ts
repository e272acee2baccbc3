/**
 * The error catalogue (src/errors/) and docs/error-codes.md, generated from it by
 * scripts/error-codes.ts: the committed document is current, every declared code is used in src/,
 * every code used in src/ is declared, and every error's docsPath names an anchor of the document.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { catalogue, entries } from '../../scripts/error-codes.js';
import {
  ERROR_CODES,
  SealworkError,
  docsPathOf,
  errorCodeSpec,
  isErrorCode,
  isSealworkError,
  type ErrorCode,
} from '../../src/errors.js';
import { CODE_TABLES } from '../../src/errors/codes.js';
import { CHALLENGE_HTTP_STATUS, HTTP_STATUS } from '../../src/sms/http-errors.js';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';

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

  it('each code is declared once, in one domain, with a one-line meaning', () => {
    const seen = new Map<string, string>();
    for (const table of CODE_TABLES)
      for (const [code, spec] of Object.entries(table)) {
        assert.ok(!seen.has(code), `${code} is declared in ${seen.get(code)} and ${spec.domain}`);
        seen.set(code, spec.domain);
        assert.match(code, /^[A-Z][A-Z0-9_]*$/, code);
        assert.ok(spec.meaning.length > 10 && !spec.meaning.includes('\n'), `${code}: one-line meaning`);
        assert.match(spec.meaning, /[.?]$/, `${code}: the meaning is a sentence`);
        for (const s of [spec.status ?? []].flat())
          assert.ok(Number.isInteger(s) && s >= 400 && s < 600, `${code}: HTTP status ${s}`);
      }
    assert.equal(seen.size, Object.keys(ERROR_CODES).length);
  });

  it('every declared code is used in src/, and every code used in src/ is declared', () => {
    const { entries: list, undeclared } = entries();
    const unused = list.filter((e) => e.files.length === 0).map((e) => e.code);
    assert.deepEqual(unused, [], 'declared but raised nowhere in src/ (remove them from src/errors/)');
    assert.deepEqual(undeclared, [], 'used as a code in src/ but not declared in src/errors/');
    // known codes are found where they are raised, whatever the pattern
    const where = (code: string) => list.find((e) => e.code === code)!.files;
    assert.ok(where('FSPF_FILE_CHANGED').includes('src/enclave/fspf.ts'), 'CODES[kind] table');
    assert.ok(where('LAYER_SYMLINK_ESCAPE').includes('src/enclave/unpack.ts'), 'layerError(code, …) helper');
    assert.ok(where('ORDER_RESTRICTED').includes('src/chain/errors.ts'), 'revert table');
    assert.ok(where('OBJECT_NOT_FOUND').includes('src/worker/storage/server.ts'), 'HTTP error body');
    assert.ok(where('SMS_HTTP_<status>').includes('src/sms-client/transport.ts'), 'code family (template)');
  });

  it('every row of the document is a declared code, with the anchor its docsPath points at', () => {
    const doc = readFileSync(DOC, 'utf8');
    const rows = [...doc.matchAll(/^\| `([^`]+)` <a id="([a-z0-9_]+)"><\/a>/gm)].map((m) => [m[1]!, m[2]!]);
    assert.deepEqual(
      rows.map(([c]) => c).sort(),
      catalogue()
        .map((e) => e.code)
        .sort(),
    );
    const anchors = new Set(rows.map(([, a]) => a));
    assert.equal(anchors.size, rows.length, 'anchors are unique');
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const e = new SealworkError(code, 'x');
      assert.equal(e.docsPath, `docs/error-codes.md#${code.toLowerCase()}`);
      assert.ok(anchors.has(e.docsPath.split('#')[1]!), `${code}: anchor in the document`);
    }
    assert.equal(docsPathOf('SMS_HTTP_502'), 'docs/error-codes.md#sms_http');
    assert.ok(anchors.has('sms_http'));
  });

  it('the HTTP statuses of the catalogue are the ones the SMS answers with', () => {
    for (const table of [HTTP_STATUS, CHALLENGE_HTTP_STATUS])
      for (const [code, status] of Object.entries(table)) {
        assert.ok(isErrorCode(code), `${code} is declared`);
        assert.ok([errorCodeSpec(code).status ?? []].flat().includes(status), `${code}: HTTP ${status}`);
      }
  });

  it('codes read at run time are checked against the catalogue', () => {
    assert.ok(isErrorCode('QUOTE_MALFORMED'));
    assert.ok(isErrorCode('SMS_HTTP_503'));
    assert.ok(!isErrorCode('SMS_HTTP_'));
    assert.ok(!isErrorCode('NOT_A_CODE'));
    assert.ok(!isErrorCode('toString'), 'no inherited property is a code');
    assert.ok(!isErrorCode(undefined));
    assert.equal(errorCodeSpec('SECRET_EXISTS').status, 409);
    assert.equal(errorCodeSpec('SMS_HTTP_500').domain, 'sms');
  });

  it('SealworkError keeps its shape and adds docsPath; isSealworkError narrows by code', () => {
    const cause = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    const e: unknown = new SealworkError('FILE_NOT_FOUND', 'Cannot read x: no such file.', {
      hint: 'Check the path.',
      details: { path: 'x' },
      cause,
      exitCode: 3,
    });
    assert.ok(isSealworkError(e, 'FILE_NOT_FOUND'));
    assert.ok(!isSealworkError(e, 'OUTPUT_EXISTS'));
    assert.ok(!isSealworkError(new Error('FILE_NOT_FOUND'), 'FILE_NOT_FOUND'));
    if (!isSealworkError(e, 'FILE_NOT_FOUND')) return;
    const code: 'FILE_NOT_FOUND' = e.code; // narrowed by the code given
    assert.equal(code, 'FILE_NOT_FOUND');
    assert.equal(e.message, 'Cannot read x: no such file. Check the path.');
    assert.equal(e.exitCode, 3);
    assert.deepEqual(e.toJSON(), {
      name: 'SealworkError',
      code: 'FILE_NOT_FOUND',
      message: 'Cannot read x: no such file. Check the path.',
      shortMessage: 'Cannot read x: no such file.',
      docsPath: 'docs/error-codes.md#file_not_found',
      hint: 'Check the path.',
      details: { path: 'x' },
      cause: { name: 'Error', message: 'no such file', code: 'ENOENT' },
    });
  });

  it("the CLI's --json error carries the docsPath; the text error stays one line", async () => {
    const missing = join(tmp.dir, 'missing.csv');
    const env = { SEALWORK_HOME: join(tmp.dir, 'home') };
    const j = await runCli(['--json', 'dataset', 'checksum', missing], { env });
    assert.equal(j.code, 1);
    const o = JSON.parse(j.stdout) as { error: { code: string; docsPath: string } };
    assert.equal(o.error.code, 'FILE_NOT_FOUND');
    assert.equal(o.error.docsPath, 'docs/error-codes.md#file_not_found');
    const t = await runCli(['dataset', 'checksum', missing], { env });
    assert.equal(t.stderr.trim().split('\n').length, 1, t.stderr);
    assert.match(t.stderr, /^error \[FILE_NOT_FOUND\]: /);
  });
});
