/**
 * The network namespace of a shielded run. A relay process is started in a fresh network
 * namespace (bubblewrap `--unshare-net`: only a loopback interface, no route anywhere); it listens
 * on 127.0.0.1:PROXY_PORT there and pipes every connection, byte for byte, to the run's egress
 * proxy through a unix socket (file-system sockets cross network namespaces; nothing else does).
 * The app's sandbox then joins that namespace (`nsenter --net`, before the uid is dropped with
 * `setpriv`), so the proxy is the only way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SealworkError } from '../../errors.js';
import { sandboxTools, shieldTools } from '../sandbox.js';

/** Where the app finds the proxy, inside its namespace. */
export const PROXY_PORT = 3128;
export const PROXY_URL = `http://127.0.0.1:${PROXY_PORT}`;

/** The relay: accept on 127.0.0.1, connect to the unix socket, pipe both ways. */
const RELAY = `
const net = require('node:net');
const [sock, port] = process.argv.slice(1);
const server = net.createServer({ allowHalfOpen: true }, (c) => {
  const u = net.connect({ path: sock, allowHalfOpen: true });
  c.pipe(u);
  u.pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready ' + process.pid + '\\n'));
`;

export interface ShieldNamespace {
  /** `/proc/<relay pid>/ns/net`: what the sandbox joins. */
  netns: string;
  close(): Promise<void>;
}

/** Start the relay in a new network namespace, bridging 127.0.0.1:PROXY_PORT to `socketPath`. */
export async function startShieldNamespace(socketPath: string): Promise<ShieldNamespace> {
  shieldTools();
  const { bwrap } = sandboxTools();
  const child: ChildProcess = spawn(
    bwrap,
    [
      '--unshare-net',
      '--die-with-parent',
      '--dev-bind',
      '/',
      '/',
      '--',
      process.execPath,
      '-e',
      RELAY,
      socketPath,
      String(PROXY_PORT),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = await new Promise<number>((res, rej) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready (\d+)\n/.exec(out);
      if (m) res(Number(m[1]));
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) =>
      rej(
        new SealworkError(
          'NETWORK_SHIELD_UNAVAILABLE',
          `The network shield's relay exited (${code}) before it was ready.`,
          {
            hint: 'Check that bubblewrap can create a network namespace here (bwrap --unshare-net true).',
            details: { stderr: err.slice(0, 2000) },
          },
        ),
      ),
    );
  });
  return {
    netns: `/proc/${pid}/ns/net`,
    close: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGKILL');
      }),
  };
}
