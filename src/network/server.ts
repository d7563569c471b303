// Accepts connections on the configured listeners and tracks them for a graceful shutdown. The
// listeners are bound first (listen), before the broker opens its storage, and requests are read
// only once serve() hands them a handler: connections made in between wait, unread.
import type { Socket } from 'node:net';
import type { Logger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { Connection } from './connection.ts';
import type { ConnectionLimits, RequestHandler } from './connection.ts';
import { HeldListener } from './held-listener.ts';
import { RequestBytesBudget } from './request-bytes.ts';

export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
}

export interface ServerLimits extends ConnectionLimits {
  /** Request bytes read or being handled on all connections together (queued.max.request.bytes); -1: unbounded. */
  queuedRequestBytesMax: number;
}

export class KafkaServer {
  private readonly listeners: { held: HeldListener; name: string }[] = [];
  private readonly connections = new Set<Connection>();
  private nextId = 1;
  private handler: RequestHandler | null = null;
  private readonly limits: ConnectionLimits;
  private readonly budget: RequestBytesBudget;
  private readonly log: Logger;

  constructor(limits: ServerLimits, log: Logger) {
    this.limits = limits;
    this.budget = new RequestBytesBudget(limits.queuedRequestBytesMax);
    this.log = log;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Request bytes read or being handled right now, on all connections. */
  get inflightRequestBytes(): number {
    return this.budget.usedBytes;
  }

  /** Binds every listener; resolves with the bound ports (useful when port 0 asked for a free one).
   *  Connections are accepted but not read until serve(). */
  async listen(listeners: ListenerSpec[]): Promise<ListenerSpec[]> {
    const bound: ListenerSpec[] = [];
    for (const l of listeners) {
      let held: HeldListener;
      try {
        held = await HeldListener.bind(l.host, l.port);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new StraitError('STRAIT_LISTEN_FAILED', `cannot listen on ${l.name}://${l.host}:${l.port}: ${e.code ?? e.message}`);
      }
      this.listeners.push({ held, name: l.name });
      if (this.handler) held.handOver((socket) => this.accept(socket, l.name));
      bound.push({ ...l, port: held.port });
      this.log.info('listening', { listener: l.name, host: l.host, port: held.port });
    }
    return bound;
  }

  /** Starts reading requests, those of connections already waiting first. */
  serve(handler: RequestHandler): void {
    this.handler = handler;
    for (const { held, name } of this.listeners) held.handOver((socket) => this.accept(socket, name));
  }

  private accept(socket: Socket, listenerName: string): void {
    const info = { id: this.nextId++, remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, listenerName };
    const conn = new Connection(socket, info, this.handler!, this.limits, this.log, this.budget);
    this.connections.add(conn);
    conn.done.then(() => this.connections.delete(conn));
  }

  /** Stops accepting, lets in-flight requests finish (bounded), then closes every connection. */
  async close(drainMs = 5000): Promise<void> {
    // A listener's close settles only after every connection has ended, so start it, then drain.
    const stopped = this.listeners.map((l) => l.held.close());
    await Promise.all([...this.connections].map((c) => c.drain(drainMs)));
    await Promise.all([...this.connections].map((c) => c.done));
    await Promise.all(stopped);
  }
}
