import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SealworkError } from '../errors.js';
import { resolveHome } from '../util/home.js';
import { decryptDataset, encryptDataset } from './dataset.js';

export interface DemoStep {
  step: string;
  detail: string;
}

/**
 * The dataset part of the demo: make a sample dataset, encrypt it (iExec format), decrypt it back
 * and check the round trip. Returns the narrated steps.
 */
export async function runDatasetDemo(p: {
  home?: string;
  onStep?: (s: DemoStep) => void;
}): Promise<DemoStep[]> {
  const steps: DemoStep[] = [];
  const say = (step: string, detail: string) => {
    const s = { step, detail };
    steps.push(s);
    p.onStep?.(s);
  };
  const dir = join(resolveHome(p.home), 'demo', `dataset-${Date.now()}-${randomBytes(3).toString('hex')}`);
  await fs.mkdir(dir, { recursive: true });
  const plain = join(dir, 'dataset.csv');
  const sample = Buffer.from(
    [
      'patient,age,glucose',
      ...Array.from({ length: 100 }, (_, i) => `p${i},${20 + (i % 60)},${80 + ((i * 7) % 90)}`),
    ].join('\n'),
  );
  await fs.writeFile(plain, sample);
  say('sample', `wrote a sample dataset: ${plain} (${sample.length} bytes)`);
  const enc = await encryptDataset({
    input: plain,
    output: join(dir, 'dataset.csv.enc'),
    keyFile: join(dir, 'dataset.key'),
  });
  say('encrypt', `encrypted to ${enc.output}; key file ${enc.keyFile} (0600); checksum ${enc.checksum}`);
  const dec = await decryptDataset({
    input: enc.output,
    keyFile: enc.keyFile,
    output: join(dir, 'dataset.decrypted.csv'),
  });
  const back = await fs.readFile(dec.output);
  if (back.length !== sample.length || !timingSafeEqual(back, sample))
    throw new SealworkError('DEMO_ROUNDTRIP_FAILED', 'The decrypted dataset differs from the original.');
  say('decrypt', `decrypted to ${dec.output}: identical to the original`);
  return steps;
}
