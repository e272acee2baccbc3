/**
 * Dataset encryption throughput and peak memory: sealwork vs openssl vs the iExec SDK, on the same
 * random file, in one run. Usage: npm run bench:encrypt [-- --size-mib 256] [-- --skip-iexec]
 * Peak RSS is the child's ru_maxrss (measured by a python3 wrapper with getrusage(RUSAGE_CHILDREN)).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const sizeMiB = Number(args[args.indexOf('--size-mib') + 1] ?? 256) || 256;
const skipIexec = args.includes('--skip-iexec');

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.log('building dist/ …');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

const dir = mkdtempSync(join(tmpdir(), 'sealwork-bench-'));
const input = join(dir, 'input.bin');
const fd = openSync(input, 'w');
for (let i = 0; i < sizeMiB; i++) writeSync(fd, randomBytes(1 << 20));
closeSync(fd);
const key = randomBytes(32);
const keyFile = join(dir, 'k.key');
execFileSync('sh', ['-c', `printf %s '${key.toString('base64')}' > '${keyFile}'`]);

const MEASURE = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
e = time.perf_counter() - t
print(e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)
`;

interface Row {
  name: string;
  seconds: number;
  mibps: number;
  rssMB: number;
}

function measure(name: string, cmd: string[], output: string): Row {
  rmSync(output, { force: true });
  const r = spawnSync('python3', ['-c', MEASURE, ...cmd], { encoding: 'utf8', cwd: ROOT });
  const [secs, rssKb, code] = r.stdout.trim().split(/\s+/).map(Number);
  if (code !== 0 || !existsSync(output)) throw new Error(`${name} failed: ${r.stderr}`);
  const expected = (Math.floor((sizeMiB * 1048576) / 16) + 1) * 16 + 16;
  const size = statSync(output).size;
  if (size !== expected && size !== expected - 16) throw new Error(`${name}: unexpected output size ${size}`);
  return { name, seconds: secs!, mibps: sizeMiB / secs!, rssMB: (rssKb! * 1024) / 1e6 };
}

const iv = randomBytes(16).toString('hex');
const rows: Row[] = [];
// Warm the page cache once so every contender reads from memory.
execFileSync('cat', [input], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 });
for (let round = 0; round < 2; round++) {
  rows.push(
    measure(
      'sealwork',
      [
        process.execPath,
        join(ROOT, 'bin', 'sealwork.js'),
        'dataset',
        'encrypt',
        input,
        '--out',
        join(dir, 's.enc'),
        '--key-file',
        join(dir, `s${round}.key`),
        '--force',
      ],
      join(dir, 's.enc'),
    ),
  );
  rows.push(
    measure(
      'openssl enc -aes-256-cbc',
      [
        'openssl',
        'enc',
        '-aes-256-cbc',
        '-K',
        key.toString('hex'),
        '-iv',
        iv,
        '-in',
        input,
        '-out',
        join(dir, 'o.enc'),
      ],
      join(dir, 'o.enc'),
    ),
  );
}
if (!skipIexec) {
  rows.push(
    measure(
      'iexec SDK 9 (encrypt)',
      [
        process.execPath,
        join(ROOT, 'bench', 'iexec-encrypt.mjs'),
        input,
        join(dir, 'i.enc'),
        key.toString('base64'),
      ],
      join(dir, 'i.enc'),
    ),
  );
}
// The CLI's own baseline (start-up, no work), to read the RSS figures against.
const base = spawnSync(
  'python3',
  ['-c', MEASURE, process.execPath, join(ROOT, 'bin', 'sealwork.js'), '--version'],
  {
    encoding: 'utf8',
  },
);
const baseRssMB = (Number(base.stdout.trim().split(/\s+/)[1]) * 1024) / 1e6;
rmSync(dir, { recursive: true, force: true });

// Best of two rounds for sealwork and openssl.
const best = (n: string) => rows.filter((r) => r.name === n).sort((a, b) => a.seconds - b.seconds)[0]!;
const table = [
  best('sealwork'),
  best('openssl enc -aes-256-cbc'),
  ...rows.filter((r) => r.name.startsWith('iexec')),
];
console.log(
  `\ndataset encryption, ${sizeMiB} MiB random file (best of 2 for sealwork/openssl), incl. file I/O\n`,
);
console.log('contender                    MiB/s    seconds   peak RSS (MB)');
for (const r of table)
  console.log(
    `${r.name.padEnd(28)} ${r.mibps.toFixed(0).padStart(6)} ${r.seconds.toFixed(2).padStart(10)} ${r.rssMB.toFixed(0).padStart(15)}`,
  );
const ratio = table[0]!.mibps / table[1]!.mibps;
console.log(`\nsealwork / openssl throughput: ${ratio.toFixed(2)}x (target >= 0.90x)`);
console.log(
  `sealwork peak RSS: ${table[0]!.rssMB.toFixed(0)} MB (target <= 100 MB; the CLI alone, \`--version\`: ${baseRssMB.toFixed(0)} MB)`,
);
