// Accepts connections on the configured listeners and tracks them for a graceful shutdown.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { Connection } from './connection.ts';
import type { ConnectionLimits, RequestHandler } from './connection.ts';

export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
}

export class KafkaServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private nextId = 1;
  private readonly handler: RequestHandler;
  private readonly limits: ConnectionLimits;
  private readonly log: Logger;

  constructor(handler: RequestHandler, limits: ConnectionLimits, log: Logger) {
    this.handler = handler;
    this.limits = limits;
    this.log = log;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds every listener; resolves with the bound ports (useful when port 0 asked for a free one). */
  async listen(listeners: ListenerSpec[]): Promise<ListenerSpec[]> {
    const bound: ListenerSpec[] = [];
    for (const l of listeners) {
      const server = createServer({ noDelay: true }, (socket) => this.accept(socket, l.name));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new StraitError('STRAIT_LISTEN_FAILED', `cannot listen on ${l.name}://${l.host}:${l.port}: ${err.code ?? err.message}`)),
        );
        server.listen({ host: l.host || '0.0.0.0', port: l.port }, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : l.port;
      this.servers.push(server);
      bound.push({ ...l, port });
      this.log.info('listening', { listener: l.name, host: l.host, port });
    }
    return bound;
  }

  private accept(socket: Socket, listenerName: string): void {
    const info = { id: this.nextId++, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, listenerName };
    const conn = new Connection(socket, info, this.handler, this.limits, this.log);
    this.connections.add(conn);
    conn.done.then(() => this.connections.delete(conn));
  }

  /** Stops accepting, lets in-flight requests finish (bounded), then closes every connection. */
  async close(drainMs = 5000): Promise<void> {
    // server.close() settles only after every connection has ended, so start it, then drain.
    const stopped = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all([...this.connections].map((c) => c.drain(drainMs)));
    await Promise.all([...this.connections].map((c) => c.done));
    await Promise.all(stopped);
  }
}
