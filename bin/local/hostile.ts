import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The loopback aliases tests may use as "other" hosts (they work without any setup). */
export type OtherHost = '127.0.0.2' | '127.0.0.3';

/**
 * A server on another loopback address that must never be contacted: it counts every TCP
 * connection that reaches it (before any HTTP is spoken) and answers 200 to anything, so a
 * request that got through would be seen succeeding.
 */
export class ListeningTrap {
  public connections = 0;

  private constructor(
    private readonly server: Server,
    public readonly host: OtherHost,
    public readonly port: number,
  ) {}

  public static async start(host: OtherHost): Promise<ListeningTrap> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, result: 'trap', valid: true }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    const trap = new ListeningTrap(server, host, (server.address() as AddressInfo).port);
    server.on('connection', () => {
      trap.connections++;
    });
    return trap;
  }

  public get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A provider stand-in on 127.0.0.1 that answers every request with `totalBytes` of JSON-ish
 * filler, streamed in chunks with backpressure; it records how much it managed to send and
 * whether the client closed the connection before the end.
 */
export class HugeAnswer {
  public bytesSent = 0;
  public closedEarly = false;
  public requests = 0;

  private constructor(
    private readonly server: Server,
    public readonly url: string,
    public readonly totalBytes: number,
  ) {}

  public static async start(totalBytes: number, chunkBytes = 64 * 1024): Promise<HugeAnswer> {
    let instance: HugeAnswer | undefined;
    const chunk = Buffer.alloc(chunkBytes, 'a');
    const server = createServer((req, res) => {
      const self = instance!;
      self.requests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      let finished = false;
      res.on('close', () => {
        if (!finished) self.closedEarly = true;
      });
      const chunks = Math.ceil(totalBytes / chunkBytes);
      let i = 0;
      const pump = () => {
        // Bounded: at most `chunks` writes in all.
        while (i < chunks && !res.destroyed) {
          i++;
          self.bytesSent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) {
          finished = true;
          res.end();
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    instance = new HugeAnswer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, totalBytes);
    return instance;
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
