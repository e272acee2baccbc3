/** Serve the market API (src/market/app.ts) over HTTP on 127.0.0.1, for `sealwork dev`. */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { SealworkError } from '../errors.js';
import { createMarketApp, type MarketContext } from './app.js';

export interface MarketServer {
  url: string;
  close(): Promise<void>;
}

export async function startMarket(
  m: MarketContext,
  p: { host?: string; port?: number } = {},
): Promise<MarketServer> {
  const app = createMarketApp(m);
  const host = p.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: p.port ?? 0 }, () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SealworkError(
          e.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'MARKET_START_FAILED',
          `Cannot start the market API: ${e.message}`,
          {
            hint: 'Choose another port.',
            cause: e,
          },
        ),
      ),
    );
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
