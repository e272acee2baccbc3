import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, measureApp, runEnclave, type BuildAppReturnType } from '../../src/enclave/index.js';
import { tempDir } from '../helpers/cli.js';
import { nodeImage } from '../helpers/images.js';
import { NEEDS_BWRAP, requires } from '../helpers/prereq.js';

const APP = `
const fs = require('node:fs');
const input = fs.readFileSync(process.env.IEXEC_IN + '/numbers.json', 'utf8');
const sum = JSON.parse(input).reduce((a, b) => a + b, 0);
fs.writeFileSync(process.env.IEXEC_OUT + '/result.json', JSON.stringify({ sum, node: process.version }));
fs.writeFileSync(process.env.IEXEC_OUT + '/computed.json', JSON.stringify({ 'deterministic-output-path': process.env.IEXEC_OUT + '/result.json' }));
console.log('sum', sum);
`;

describe(
  'a Node.js app in the enclave',
  { skip: requires('a Node.js app in the enclave', [NEEDS_BWRAP]) },
  () => {
    let t: ReturnType<typeof tempDir>;
    let app: BuildAppReturnType;
    before(async () => {
      t = tempDir('sealwork-enclave-node-');
      const src = await nodeImage(join(t.dir, 'src'), [
        { name: 'app/', type: 'directory' },
        { name: 'app/index.js', data: APP },
      ]);
      app = await buildApp({
        image: src,
        out: join(t.dir, 'app'),
        entrypoint: 'node /app/index.js',
        home: t.dir,
        workDir: t.dir,
      });
      await fs.rm(src, { recursive: true });
    });
    after(() => t.cleanup());

    it('measures the node binary and runs the app on /iexec_in', async () => {
      assert.equal(app.measured, '/usr/bin/node');
      assert.equal((await measureApp(app.out, { workDir: t.dir })).fingerprint, app.fingerprint);
      const inDir = join(t.dir, 'in');
      await fs.mkdir(inDir);
      await fs.writeFile(join(inDir, 'numbers.json'), '[1,2,3,36]');
      const outDir = join(t.dir, 'out');
      const r = await runEnclave({
        image: app.out,
        fspfKey: app.fspfKey,
        fspfTag: app.fspfTag,
        inDir,
        outDir,
        workDir: t.dir,
        timeoutMs: 30_000,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'sum 42\n');
      assert.deepEqual(JSON.parse(await fs.readFile(join(outDir, 'result.json'), 'utf8')), {
        sum: 42,
        node: process.version,
      });
    });
  },
);
