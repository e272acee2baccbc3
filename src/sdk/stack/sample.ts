/**
 * The sample app and dataset of the demo: a busybox-static OCI image with an iExec-style script
 * (reads the dataset from /iexec_in, writes /iexec_out/result.txt and computed.json), built into
 * a protected image; and a small CSV dataset.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type BuildAppReturnType } from '../../enclave/index.js';
import { packEntry, writeLayer, writeOciImage } from '../../enclave/oci.js';
import { SealworkError } from '../../errors.js';

export const BUSYBOX_PATH = '/bin/busybox';
const APPLETS = [
  'sh',
  'awk',
  'cat',
  'echo',
  'printf',
  'wc',
  'head',
  'sha256sum',
  'sleep',
  'env',
  'ls',
  'test',
];

/** The demo app: statistics over the patients CSV, iExec output conventions. */
export const SAMPLE_APP_SCRIPT = `#!/bin/sh
set -e
out="\${IEXEC_OUT:-/iexec_out}"
if [ -n "$IEXEC_DATASET_FILENAME" ]; then
  f="\${IEXEC_IN:-/iexec_in}/$IEXEC_DATASET_FILENAME"
  awk -F, 'NR>1 { n++; s+=$3; if ($3>=126) d++ } END { printf "patients: %d\\nmean glucose: %.1f mg/dL\\nat or above 126 mg/dL: %d\\n", n, s/n, d }' "$f" > "$out/result.txt"
else
  echo "hello from the enclave" > "$out/result.txt"
fi
if [ "$#" -gt 0 ]; then echo "args: $*" >> "$out/result.txt"; fi
if [ -n "$IEXEC_REQUESTER_SECRET_1" ]; then echo "requester secret 1: present" >> "$out/result.txt"; fi
printf '{"deterministic-output-path":"/iexec_out/result.txt"}' > "$out/computed.json"
`;

/** Write a plain (unprotected) busybox OCI image holding `/app/run.sh`. */
export async function writeSampleImage(
  out: string,
  script = SAMPLE_APP_SCRIPT,
  workDir?: string,
  extraFiles: { path: string; data: Buffer }[] = [],
): Promise<string> {
  if (!existsSync(BUSYBOX_PATH))
    throw new SealworkError(
      'BUSYBOX_MISSING',
      `${BUSYBOX_PATH} is missing: the sample app is built from it.`,
      {
        hint: 'Install it: apt-get install -y busybox-static.',
      },
    );
  const scratch = await fs.mkdtemp(join(workDir ?? join(out, '..'), '.sample-'));
  try {
    const layer = await writeLayer(join(scratch, 'layer.tar'), async (pack) => {
      await packEntry(pack, { name: 'bin/', type: 'directory', mode: 0o755 });
      await packEntry(pack, { name: 'bin/busybox', type: 'file', mode: 0o755 }, { file: BUSYBOX_PATH });
      for (const a of APPLETS)
        await packEntry(pack, { name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 });
      await packEntry(pack, { name: 'tmp/', type: 'directory', mode: 0o1777 });
      await packEntry(pack, { name: 'app/', type: 'directory', mode: 0o755 });
      await packEntry(pack, { name: 'app/run.sh', type: 'file', mode: 0o755 }, { data: Buffer.from(script) });
      const dirs = new Set<string>(['app/']);
      for (const f of extraFiles) {
        const parts = f.path.replace(/^\/+/, '').split('/');
        for (let i = 1; i < parts.length; i++) {
          const d = `${parts.slice(0, i).join('/')}/`;
          if (!dirs.has(d)) {
            dirs.add(d);
            await packEntry(pack, { name: d, type: 'directory', mode: 0o755 });
          }
        }
        await packEntry(pack, { name: parts.join('/'), type: 'file', mode: 0o644 }, { data: f.data });
      }
    });
    await writeOciImage({
      out,
      config: {
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/bin'], Entrypoint: ['/app/run.sh'] },
      },
      layers: [layer],
      workDir: scratch,
    });
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return out;
}

/** The digest an app is deployed with: the manifest digest of an OCI layout (0x + hex). */
export async function imageChecksum(image: string): Promise<`0x${string}`> {
  const st = await fs.stat(image);
  if (!st.isDirectory())
    return `0x${createHash('sha256')
      .update(await fs.readFile(image))
      .digest('hex')}`;
  const index = JSON.parse(await fs.readFile(join(image, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const d = index.manifests[0]?.digest ?? '';
  return `0x${d.replace(/^sha256:/, '')}`;
}

/** Build the protected sample app (`dir/sample-app`), measured and fingerprinted. */
export async function buildSampleApp(p: {
  dir: string;
  script?: string;
  name?: string;
  /** Write the protected image as an OCI tar archive (`<name>.tar`) instead of a layout folder. */
  archive?: boolean;
  /** FSPF regions (default `/:authenticated`); an `encrypted` region writes `<name>.fskey.json`. */
  regions?: string[];
  /** More files in the image (e.g. data in an encrypted region). */
  files?: { path: string; data: Buffer }[];
  /** Build from this image and entrypoint instead of the busybox sample (script and files ignored). */
  source?: { image: string; entrypoint: string };
  /** Network shield destinations (`host:port`), measured. */
  egress?: string[];
}): Promise<BuildAppReturnType & { checksum: `0x${string}` }> {
  await fs.mkdir(p.dir, { recursive: true });
  const name = p.name ?? 'sample-app';
  const plain = join(p.dir, `${name}.plain`);
  const out = join(p.dir, p.archive ? `${name}.tar` : name);
  await fs.rm(plain, { recursive: true, force: true });
  await fs.rm(out, { recursive: true, force: true });
  if (!p.source) await writeSampleImage(plain, p.script, p.dir, p.files);
  const built = await buildApp({
    image: p.source?.image ?? plain,
    out,
    entrypoint: p.source?.entrypoint ?? '/app/run.sh',
    ...(p.egress ? { egress: p.egress } : {}),
    // The busybox sample is small; another image (e.g. Node.js) gets the default enclave size.
    ...(p.source ? {} : { heap: '64M', stack: '1M', threads: 2 }),
    workDir: p.dir,
    ...(p.regions ? { regions: p.regions, fsKeyFile: join(p.dir, `${name}.fskey.json`), force: true } : {}),
  });
  await fs.rm(plain, { recursive: true, force: true });
  return { ...built, checksum: await imageChecksum(out) };
}

/** The sample dataset: a small CSV of (patient, age, glucose). */
export function sampleDataset(rows = 100): Buffer {
  return Buffer.from(
    [
      'patient,age,glucose',
      ...Array.from({ length: rows }, (_, i) => `p${i},${20 + (i % 60)},${80 + ((i * 7) % 90)}`),
    ].join('\n') + '\n',
  );
}
