// Helper for bench/dataset-encrypt.ts: encrypt a file with the real iExec SDK (in memory, as the SDK does).
import { readFile, writeFile } from 'node:fs/promises';
import { IExecConfig, IExecDatasetModule } from 'iexec';

const [input, output, key] = process.argv.slice(2);
const ds = new IExecDatasetModule(
  new IExecConfig({ ethProvider: 'http://127.0.0.1:1' }, { allowExperimentalNetworks: true }),
);
await writeFile(output, await ds.encrypt(await readFile(input), key));
