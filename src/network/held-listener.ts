// A TCP listener bound before the broker is ready to serve: a port clash fails the start before any
// data is opened, and connections made meanwhile are accepted but not read until the server that
// will serve them takes them over. Kafka binds its acceptors early the same way and starts
// processing requests only once the broker has started (SocketServer.enableRequestProcessing);
// a client sees a slow first answer, never an error.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export class HeldListener {
  private readonly server: Server;
  private readonly held = new Set<Socket>();
  private onConnection: ((socket: Socket) => void) | null = null;
  readonly host: string;
  readonly port: number;

  private constructor(server: Server, host: string, port: number) {
    this.server = server;
    this.host = host;
    this.port = port;
  }

  /** Binds host:port (port 0: a free one); rejects with the listen error (EADDRINUSE…). */
  static bind(host: string, port: number): Promise<HeldListener> {
    return new Promise((resolve, reject) => {
      // pauseOnConnect: nothing is read from a connection until it is handed over.
      const server = createServer({ noDelay: true, pauseOnConnect: true });
      server.once('error', reject);
      server.listen({ host: host || '0.0.0.0', port }, () => {
        server.off('error', reject);
        const addr = server.address();
        const listener = new HeldListener(server, typeof addr === 'object' && addr ? addr.address : host, typeof addr === 'object' && addr ? addr.port : port);
        server.on('connection', (socket: Socket) => listener.accept(socket));
        resolve(listener);
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.onConnection) return this.onConnection(socket);
    this.held.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.held.delete(socket));
  }

  /** The bound server, for a server of another kind to listen on its handle (node:http's
   *  server.listen(handle)): new connections then go to that server, held ones are handed over. */
  get boundServer(): Server {
    return this.server;
  }

  /** From now on connections go to onConnection, the held ones first; they are still paused. */
  handOver(onConnection: (socket: Socket) => void): void {
    this.onConnection = onConnection;
    const held = [...this.held];
    this.held.clear();
    for (const s of held) if (!s.destroyed) onConnection(s);
  }

  /** Stops accepting and drops the connections still held; resolves once the port is free. */
  close(): Promise<void> {
    for (const s of this.held) s.destroy();
    this.held.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
