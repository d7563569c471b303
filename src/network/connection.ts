// One client connection: size-prefixed framing, requests handled concurrently but answered in the
// order they arrived (Kafka's pipelining contract), a bounded number and size in flight, an idle timeout.
// The network layer knows nothing of Kafka APIs: it hands whole frames to a RequestHandler.
import type { Socket } from 'node:net';
import type { Logger } from '../common/logger.ts';
import { RequestBytesBudget } from './request-bytes.ts';

export interface ConnectionInfo {
  id: number;
  remoteAddress: string;
  listenerName: string;
}

/** Thrown by a handler when the connection must be closed (malformed or unsupported request). */
export class CloseConnection extends Error {
  override name = 'CloseConnection';
}

export interface RequestHandler {
  /** Resolves to the response frame (size prefix included) as one or more buffers, or null when the
   *  request expects no response (acks=0 produce). */
  handle(frame: Buffer, conn: ConnectionInfo): Promise<Buffer[] | null>;
}

export interface ConnectionLimits {
  requestSizeBytesMax: number;
  inflightRequestsMax: number;
  /** Request bytes of this connection being read or handled (queued.max.request.bytes.per.connection); -1: unbounded. */
  inflightRequestBytesMax: number;
  idleMsMax: number;
}

interface Slot {
  done: boolean;
  parts: Buffer[] | null;
  /** Request bytes this slot holds of the connection's and the broker's bounds, until handled. */
  bytes: number;
}

const unbounded = new RequestBytesBudget(-1);

export class Connection {
  readonly info: ConnectionInfo;
  private readonly socket: Socket;
  private readonly handler: RequestHandler;
  private readonly limits: ConnectionLimits;
  private readonly log: Logger;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private frameSize = -1;
  private queue: Slot[] = [];
  private closed = false;
  private paused = false;
  private waitingForDrain = false;
  /** Bytes of the frame being read (reserved once its size is known) plus those of unhandled requests. */
  private inflightBytes = 0;
  private frameReserved = false;
  /** Reading stopped until request bytes in flight (this connection's or the broker's) are handled. */
  private waitingForBytes = false;
  private draining = false;
  private readonly budget: RequestBytesBudget;
  private readonly onBudgetRoom = () => this.retryFrames();
  private idleTimer: NodeJS.Timeout | null = null;
  readonly done: Promise<void>;

  constructor(socket: Socket, info: ConnectionInfo, handler: RequestHandler, limits: ConnectionLimits, log: Logger, budget: RequestBytesBudget = unbounded) {
    this.socket = socket;
    this.budget = budget;
    this.info = info;
    this.handler = handler;
    this.limits = limits;
    this.log = log;
    socket.setNoDelay(true);
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug('connection error', { conn: info.id, remote: info.remoteAddress, err }));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => {
      this.waitingForDrain = false;
      this.updateFlow();
    });
    this.touch();
    // Listeners accept with pauseOnConnect (nothing is read before the broker serves): start reading.
    socket.resume();
  }

  get inflight(): number {
    return this.queue.length;
  }

  private touch(): void {
    if (this.limits.idleMsMax < 0) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        if (this.queue.length === 0) this.close('idle timeout');
        else this.touch();
      }, this.limits.idleMsMax);
      this.idleTimer.unref();
    }
  }

  private onData(chunk: Buffer): void {
    this.touch();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.readFrames();
  }

  /** Dispatches every whole frame buffered, reserving each frame's bytes once its size is known. */
  private readFrames(): void {
    while (!this.closed) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return;
        this.frameSize = this.peekInt32();
        if (this.frameSize < 0 || this.frameSize > this.limits.requestSizeBytesMax) {
          this.log.warn('closing connection: request frame size out of bounds', {
            conn: this.info.id,
            remote: this.info.remoteAddress,
            sizeBytes: this.frameSize,
            sizeBytesMax: this.limits.requestSizeBytesMax,
          });
          this.close('frame size');
          return;
        }
      }
      if (!this.frameReserved) {
        if (!this.reserve(this.frameSize)) {
          this.waitingForBytes = true;
          this.updateFlow();
          return;
        }
        this.frameReserved = true;
        if (this.waitingForBytes) {
          this.waitingForBytes = false;
          this.updateFlow();
        }
      }
      if (this.buffered < 4 + this.frameSize) return;
      const frame = this.take(4 + this.frameSize).subarray(4);
      const bytes = this.frameSize;
      this.frameSize = -1;
      this.frameReserved = false;
      this.dispatch(frame, bytes);
    }
  }

  /** Takes a frame's bytes from this connection's bound and the broker's. Neither is strict: a bound
   *  with room left admits a whole frame, so a frame larger than a bound is still read, alone. */
  private reserve(n: number): boolean {
    const connMax = this.limits.inflightRequestBytesMax;
    // Waits for this connection's own requests to be handled (releaseBytes retries).
    if (connMax >= 0 && this.inflightBytes > 0 && this.inflightBytes >= connMax) return false;
    if (!this.budget.tryReserve(n, this.onBudgetRoom)) return false;
    this.inflightBytes += n;
    return true;
  }

  private releaseBytes(n: number): void {
    if (n === 0) return;
    this.inflightBytes -= n;
    this.budget.release(n);
    if (this.waitingForBytes) this.retryFrames();
  }

  private retryFrames(): void {
    // Not from inside the handler's settlement or another connection's release: on the next turn.
    setImmediate(() => {
      // A draining connection reads no new request, even one already buffered.
      if (!this.closed && !this.draining && this.waitingForBytes) this.readFrames();
    });
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readInt32BE(0);
  }

  /** Removes n bytes from the front of the buffered chunks; copies only when a frame spans chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private dispatch(frame: Buffer, bytes: number): void {
    const slot: Slot = { done: false, parts: null, bytes };
    const handled = () => {
      const n = slot.bytes;
      slot.bytes = 0;
      this.releaseBytes(n);
    };
    this.queue.push(slot);
    this.updateFlow();
    let result: Promise<Buffer[] | null>;
    try {
      result = this.handler.handle(frame, this.info);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (parts) => {
        slot.done = true;
        slot.parts = parts;
        handled();
        this.flush();
      },
      (err: unknown) => {
        handled();
        if (err instanceof CloseConnection) {
          this.log.warn('closing connection: bad request', { conn: this.info.id, remote: this.info.remoteAddress, reason: err.message });
        } else {
          this.log.error('closing connection: request handler failed', { conn: this.info.id, remote: this.info.remoteAddress, err: err as Error, stack: (err as Error)?.stack });
        }
        this.close('bad request');
      },
    );
  }

  /** Writes every finished response at the head of the queue, keeping arrival order. */
  private flush(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const slot = this.queue.shift()!;
      if (slot.parts === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      for (const p of slot.parts) {
        if (!this.socket.write(p)) this.waitingForDrain = true;
      }
    }
    if (wrote) this.socket.uncork();
    this.updateFlow();
  }

  /** Stops reading while too many requests are in flight or the socket's send buffer is full. */
  private updateFlow(): void {
    if (this.closed) return;
    const shouldPause = this.draining || this.queue.length >= this.limits.inflightRequestsMax || this.waitingForDrain || this.waitingForBytes;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.debug('connection closed', { conn: this.info.id, remote: this.info.remoteAddress, reason });
    this.socket.destroy();
  }

  /** Stops reading new requests and closes once every accepted request has been answered. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.socket.pause();
    this.paused = true;
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && !this.closed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.socket.end();
    setTimeout(() => this.close('shutdown'), 1000).unref();
  }

  private onClose(): void {
    this.closed = true;
    // The frame being read is dropped; requests being handled give their bytes back when done.
    this.budget.cancel(this.onBudgetRoom);
    if (this.frameReserved) {
      this.frameReserved = false;
      this.releaseBytes(this.frameSize);
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.chunks = [];
    this.queue = [];
  }
}
