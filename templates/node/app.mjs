// A confidential app, iExec style.
//
// Inputs (all optional): the dataset at $IEXEC_IN/$IEXEC_DATASET_FILENAME, input files
// $IEXEC_IN/$IEXEC_INPUT_FILE_NAME_<n>, command-line args, the app developer's secret
// $IEXEC_APP_DEVELOPER_SECRET and requester secrets $IEXEC_REQUESTER_SECRET_<n>.
// Outputs: $IEXEC_OUT/result.json and $IEXEC_OUT/computed.json. Only /iexec_out leaves the enclave.
import fs from 'node:fs';
import path from 'node:path';

const IEXEC_IN = process.env.IEXEC_IN || '/iexec_in';
const IEXEC_OUT = process.env.IEXEC_OUT || '/iexec_out';

function readDataset() {
  const name = process.env.IEXEC_DATASET_FILENAME;
  if (!name) return null;
  const rows = fs
    .readFileSync(path.join(IEXEC_IN, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  return { name, rows: rows.length, first: rows[0] ?? null };
}

function readInputFiles() {
  const count = Number(process.env.IEXEC_INPUT_FILES_NUMBER || '0');
  const files = [];
  for (let i = 1; i <= count; i++) {
    const name = process.env[`IEXEC_INPUT_FILE_NAME_${i}`];
    files.push({ name, bytes: fs.statSync(path.join(IEXEC_IN, name)).size });
  }
  return files;
}

// Never print or write a secret's value: say which ones arrived, and their length.
function requesterSecretLengths() {
  const prefix = 'IEXEC_REQUESTER_SECRET_';
  const out = {};
  for (const k of Object.keys(process.env).sort())
    if (k.startsWith(prefix)) out[k.slice(prefix.length)] = process.env[k].length;
  return out;
}

const args = process.argv.slice(2);
const result = {
  greeting: `Hello, ${args.join(' ') || 'world'}!`,
  dataset: readDataset(),
  inputFiles: readInputFiles(),
  appSecretLength: (process.env.IEXEC_APP_DEVELOPER_SECRET || '').length,
  requesterSecretLengths: requesterSecretLengths(),
};
const resultPath = path.join(IEXEC_OUT, 'result.json');
fs.writeFileSync(resultPath, JSON.stringify(result, null, 2));
fs.writeFileSync(
  path.join(IEXEC_OUT, 'computed.json'),
  JSON.stringify({ 'deterministic-output-path': resultPath }),
);
console.log(`wrote ${resultPath}: ${result.greeting}`);
