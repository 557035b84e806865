import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP forwarder that a secret's host and port (or a client's endpoint) point at, in
 * front of a real server (PostgreSQL, MariaDB, moto, the token provider emulator). It makes
 * "the target is unreachable" real and switchable:
 *
 * - `pass`: every connection is piped to the target unchanged;
 * - `refuse`: the listening socket is closed, so new connections are refused by the kernel
 *   (ECONNREFUSED, as for a host whose server is down), and the connections open through it are
 *   cut.
 *
 * It listens on 127.0.0.1 only and forwards to a loopback target only.
 */
export interface FaultForwarder {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, for HTTP clients. */
  readonly url: string;
  readonly mode: 'pass' | 'refuse';
  /** Connections accepted since the start (for checks that traffic went through it). */
  readonly connections: number;
  refuse(): Promise<void>;
  pass(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultForwarder(target: { host: string; port: number }): Promise<FaultForwarder> {
  if (!/^127\.\d+\.\d+\.\d+$/.test(target.host)) throw new Error(`fault forwarder: target ${target.host} is not a loopback address`);
  const open = new Set<Socket>();
  let connections = 0;
  let mode: 'pass' | 'refuse' = 'pass';
  let server: Server | undefined;
  let port = 0;

  const listen = async (): Promise<void> => {
    const s = createServer((client) => {
      connections++;
      const upstream = connect(target.port, target.host);
      open.add(client);
      open.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        open.delete(client);
        open.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    // The same port again after a `refuse`: the secret names it. Loopback ports are not reused
    // by the kernel this quickly, so a few attempts are plenty.
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, '127.0.0.1', () => {
            s.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const address = s.address();
    port = typeof address === 'object' && address ? address.port : port;
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of open) socket.destroy();
    open.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get mode() {
      return mode;
    },
    get connections() {
      return connections;
    },
    async refuse() {
      if (mode === 'refuse') return;
      mode = 'refuse';
      await stop();
    },
    async pass() {
      if (mode === 'pass') return;
      await listen();
      mode = 'pass';
    },
    close: stop,
  };
}
