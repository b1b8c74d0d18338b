/**
 * A TCP proxy for fault tests: put it between the application and a real server, then cut it (connections reset,
 * new ones refused), stall it (connections accepted, nothing forwarded) or restore it, without touching the server.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The port the application connects to (127.0.0.1). */
  readonly port: number;
  /** Resets every connection and stops listening: new connections are refused. */
  cut(): Promise<void>;
  /** Keeps accepting connections but forwards nothing, in either direction: a black hole. */
  stall(): void;
  /** Listens again (same port) and forwards normally. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `targetHost:targetPort`. */
export async function startTcpProxy(targetHost: string, targetPort: number, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  let server: Server | null = null;

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  const listen = (onPort: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        track(client);
        if (stalled) return; // accept and hold: nothing is forwarded
        const upstream = connect(targetPort, targetHost);
        track(upstream);
        const pipe = (from: Socket, to: Socket): void => {
          from.on('data', (chunk: Buffer) => {
            if (!stalled) to.write(chunk);
          });
          from.on('end', () => to.end());
          from.on('close', () => to.destroy());
        };
        pipe(client, upstream);
        pipe(upstream, client);
      });
      s.once('error', reject);
      s.listen(onPort, '127.0.0.1', () => {
        server = s;
        const address = s.address();
        resolve(typeof address === 'object' && address !== null ? address.port : onPort);
      });
    });

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      const s = server;
      server = null;
      if (s === null) return resolve();
      s.close(() => resolve());
    });

  const boundPort = await listen(port);
  return {
    port: boundPort,
    async cut() {
      const closed = stopListening();
      for (const socket of sockets) socket.resetAndDestroy();
      await closed;
    },
    stall() {
      stalled = true;
    },
    async restore() {
      stalled = false;
      for (const socket of sockets) socket.resetAndDestroy();
      if (server === null) await listen(boundPort);
    },
    async close() {
      const closed = stopListening();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
