/** `sealwork storage`: run the embedded content-addressed store, put a file in it. */
import type { Command } from 'commander';
import { action } from '../context.js';
import { untilSignal } from '../terminal.js';

const sdk = () => import('../../sdk/worker/storage.js');

export function register(program: Command): void {
  const storage = program.command('storage').description('Embedded content-addressed storage');
  storage
    .command('start')
    .description('Run the content-addressed store (HTTPS, self-signed certificate) until interrupted')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '0')
    .option('--max-size <size>', 'largest object accepted (e.g. 64M, 1G)', '1G')
    .action(
      action(async (ctx, o: { host: string; port: string; maxSize: string }) => {
        const { startStorageService, parseSize } = await sdk();
        const s = await startStorageService({
          home: ctx.home,
          host: o.host,
          port: Number(o.port),
          maxObjectBytes: parseSize(o.maxSize),
        });
        ctx.out({ url: s.url, port: s.port, certPath: s.certPath }, [
          `storage listening on ${s.url}`,
          `certificate: ${s.certPath} (clients trust it to download)`,
        ]);
        await untilSignal(s.close);
      }),
    );
  storage
    .command('put')
    .description('Store a file; prints its URL (usable as a dataset URL) and its sha256 checksum')
    .argument('<file>')
    .option('--storage-url <url>', 'storage to use (default: the one started under this home)')
    .action(
      action(async (ctx, o: { storageUrl?: string }, file: string) => {
        const { storagePut } = await sdk();
        const r = await storagePut({ file, storageUrl: o.storageUrl, home: ctx.home });
        ctx.out(r, [`url:      ${r.url}`, `checksum: ${r.sha256}`, `size:     ${r.size}`]);
      }),
    );
}
