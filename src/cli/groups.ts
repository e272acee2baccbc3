import type { Command } from 'commander';

/** Command groups shared by several domains (e.g. `app build` is enclave, `app deploy` is chain). */
const GROUPS: Record<string, string> = {
  dataset: 'Datasets: encrypt, decrypt, checksum, deploy, push the key',
  app: 'Apps: build and measure enclave images, deploy, run',
  workerpool: 'Workerpools: deploy and show',
  order: 'Orders: sign, publish, cancel, list',
  deal: 'Deals: match orders, show',
  task: 'Tasks: show status and results',
  chain: 'The embedded chain (anvil) and contract deployments',
  wallet: 'Wallets: create, import, show',
  attest: 'Attestation: verify DCAP quotes, simulated quotes',
  sms: 'Secret Management Service',
  secret: 'Secrets stored in the SMS',
  requester: 'Requester secrets',
  result: 'Results: keys, download, decrypt',
  storage: 'Embedded content-addressed storage',
  worker: 'The worker (scheduler + enclave runner)',
};

/** Get (creating on first use) the `sealwork <name>` group command. */
export function group(program: Command, name: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  const description = GROUPS[name];
  if (!description) throw new Error(`unknown command group ${name}`);
  return program.command(name).description(description);
}
