// A TCP proxy a test puts between a client and a server (Strait and MinIO) to make the network path
// fail the ways a real outage does while the server itself stays up. The test switches its mode:
//   pass       bytes flow both ways;
//   refuse     nothing listens on the port: new connections get ECONNREFUSED, open ones are reset;
//   reset      connections are accepted and reset at once (RST), open ones are reset too;
//   blackhole  connections are accepted and then nothing moves either way, open ones included (a
//              network partition, or a store that stopped answering); when the mode ends they
//              carry on where they stopped, as after a partition heals, unless the client gave up.
// It speaks no protocol: what the client sends (an S3 request signed for the proxy's address) reaches
// the server byte for byte.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'reset' | 'blackhole';

export interface FaultProxyStats {
  /** Connections the proxy accepted (in any mode but refuse). */
  accepted: number;
  /** Connections reset by the proxy: on arrival in reset mode, or open when refuse or reset began. */
  reset: number;
  /** Connections held still by a blackhole (on arrival or open when it began). */
  stalled: number;
  /** Bytes forwarded, both directions. */
  forwardedBytes: number;
  /** Times each mode was entered (the initial pass included). */
  entered: Record<FaultMode, number>;
  /** Milliseconds spent in each mode so far. */
  msIn: Record<FaultMode, number>;
}

interface Link {
  client: Socket;
  server: Socket | null;
  flowing: boolean;
}

const ignore = (): void => {};

export class FaultProxy {
  readonly port: number;
  private readonly upstream: { host: string; port: number };
  private listener: Server | null;
  private readonly links = new Set<Link>();
  private current: FaultMode = 'pass';
  private since = Date.now();
  private closed = false;
  private readonly counts: Omit<FaultProxyStats, 'msIn'> = {
    accepted: 0,
    reset: 0,
    stalled: 0,
    forwardedBytes: 0,
    entered: { pass: 1, refuse: 0, reset: 0, blackhole: 0 },
  };
  private readonly msIn: Record<FaultMode, number> = { pass: 0, refuse: 0, reset: 0, blackhole: 0 };

  private constructor(listener: Server, port: number, upstream: { host: string; port: number }) {
    this.listener = listener;
    this.port = port;
    this.upstream = upstream;
  }

  /** Listens on a free 127.0.0.1 port, in pass mode, forwarding to upstream. */
  static async start(upstream: { host?: string; port: number }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const listener = createServer({ allowHalfOpen: true }, (socket) => proxy!.onConnection(socket));
    const port = await listen(listener, 0);
    proxy = new FaultProxy(listener, port, { host: upstream.host ?? '127.0.0.1', port: upstream.port });
    return proxy;
  }

  /** http://127.0.0.1:PORT, to give a client as its S3 endpoint. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): FaultMode {
    return this.current;
  }

  /** Open connections (accepted, not yet closed by either side). */
  get openConnections(): number {
    return this.links.size;
  }

  stats(): FaultProxyStats {
    const msIn = { ...this.msIn };
    msIn[this.current] += Date.now() - this.since;
    return { ...this.counts, entered: { ...this.counts.entered }, msIn };
  }

  /** Switches mode; resolves once the new mode holds (for pass after refuse: listening again). */
  async setMode(mode: FaultMode): Promise<void> {
    if (this.closed) throw new Error('the fault proxy is closed');
    if (mode === this.current) return;
    const previous = this.current;
    this.msIn[previous] += Date.now() - this.since;
    this.since = Date.now();
    this.current = mode;
    this.counts.entered[mode]++;
    if (mode === 'refuse') {
      // Closing the listener frees the port at once; the 'close' event waits for open
      // connections, which are reset just below, so it is not awaited.
      this.listener?.close();
      this.listener = null;
    } else if (this.listener === null) {
      this.listener = await this.listenAgain();
    }
    for (const link of this.links) {
      if (mode === 'refuse' || mode === 'reset') this.reset(link);
      else if (mode === 'blackhole') this.stall(link);
      else this.flow(link);
    }
  }

  /** Resets every connection and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links) this.reset(link);
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private onConnection(client: Socket): void {
    this.counts.accepted++;
    client.on('error', ignore);
    const link: Link = { client, server: null, flowing: false };
    this.links.add(link);
    client.once('close', () => {
      this.links.delete(link);
      link.server?.destroy();
    });
    if (this.closed || this.current === 'reset' || this.current === 'refuse') this.reset(link);
    else if (this.current === 'blackhole') this.stall(link);
    else this.flow(link);
  }

  /** Forwards both ways, connecting upstream first if this link has not yet. */
  private flow(link: Link): void {
    if (link.flowing || link.client.destroyed) return;
    if (link.server === null) {
      const server = createConnection({ host: this.upstream.host, port: this.upstream.port, allowHalfOpen: true });
      server.on('error', ignore);
      server.once('close', () => link.client.destroy());
      link.server = server;
      const count = (chunk: Buffer): void => {
        this.counts.forwardedBytes += chunk.length;
      };
      link.client.on('data', count);
      server.on('data', count);
    }
    link.flowing = true;
    link.client.pipe(link.server);
    link.server.pipe(link.client);
  }

  /** Nothing moves either way; what arrives waits in the kernel's buffers (and then the sender's). */
  private stall(link: Link): void {
    this.counts.stalled++;
    if (link.flowing && link.server !== null) {
      link.client.unpipe(link.server);
      link.server.unpipe(link.client);
    }
    link.flowing = false;
    link.client.pause();
    link.server?.pause();
  }

  private reset(link: Link): void {
    if (link.client.destroyed) return;
    this.counts.reset++;
    link.flowing = false;
    for (const socket of [link.client, link.server]) {
      if (socket === null || socket.destroyed) continue;
      try {
        socket.resetAndDestroy();
      } catch {
        socket.destroy();
      }
    }
  }

  /** Listens on the same port again; another process may have taken it meanwhile (then it throws). */
  private async listenAgain(): Promise<Server> {
    const listener = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
    for (let attempt = 1; ; attempt++) {
      try {
        await listen(listener, this.port);
        return listener;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) {
          throw new Error(`the fault proxy could not listen on port ${this.port} again: ${(error as Error).message}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
