// At most one connection per broker address, opened on first use and again after it drops. A broker
// that refused or dropped us is not tried again before its reconnect backoff has passed (doubling
// per failure up to reconnectBackoffMsMax), so a dead broker costs a few attempts, not a busy loop.
import { BrokerConnection } from './connection.ts';
import { closedError, connectionError } from './errors.ts';
import type { KafkaClientError } from './errors.ts';
import { backoffMs, endpointKey } from './options.ts';
import type { ClientSettings, Endpoint } from './options.ts';
import { nowMs, sleep } from './time.ts';

interface Slot {
  endpoint: Endpoint;
  conn: BrokerConnection | null;
  opening: Promise<BrokerConnection> | null;
  failures: number;
  retryAtMs: number;
  lastError: KafkaClientError | null;
}

export class ConnectionPool {
  private readonly settings: ClientSettings;
  private readonly slots = new Map<string, Slot>();
  private readonly closing = new AbortController();

  constructor(settings: ClientSettings) {
    this.settings = settings;
  }

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.closing.signal;
  }

  /** The open connection to an address, if there is one (never connects). */
  openConnection(endpoint: Endpoint): BrokerConnection | null {
    const conn = this.slots.get(endpointKey(endpoint))?.conn ?? null;
    return conn?.isOpen ? conn : null;
  }

  /** When the address may next be tried (0 when it may be tried now). */
  retryAtMs(endpoint: Endpoint): number {
    return this.slots.get(endpointKey(endpoint))?.retryAtMs ?? 0;
  }

  /** The connection to an address, opened (after its backoff) if needed, within deadlineMs. */
  async get(endpoint: Endpoint, label: string, deadlineMs: number): Promise<BrokerConnection> {
    if (this.closed) throw closedError();
    const slot = this.slot(endpoint);
    if (slot.conn?.isOpen) return this.named(slot.conn, label);
    if (!slot.opening) {
      const waitMs = slot.retryAtMs - nowMs();
      if (waitMs > 0) {
        // Refused credentials or certificates stay refused: no point waiting to be told again.
        if (slot.lastError && !slot.lastError.retriable) throw slot.lastError;
        if (nowMs() + waitMs >= deadlineMs) {
          const last = slot.lastError ? `: ${slot.lastError.message}` : '';
          throw connectionError(`${label} is in reconnect backoff for ${Math.ceil(waitMs)} ms more${last}`, slot.lastError ?? undefined);
        }
        if (!(await sleep(waitMs, this.signal))) throw closedError();
      }
      // Another caller may have started while we slept.
      if (slot.conn?.isOpen) return this.named(slot.conn, label);
      slot.opening ??= this.open(slot, label, deadlineMs);
    }
    return this.named(await slot.opening, label);
  }

  /** A bootstrap connection turns out to be a known broker's: say so in later error messages. */
  private named(conn: BrokerConnection, label: string): BrokerConnection {
    if (label.startsWith('broker ')) conn.label = label;
    return conn;
  }

  /** Closes every connection; requests in flight fail with STRAIT_LINK_CLOSED. */
  close(): void {
    this.closing.abort();
    for (const slot of this.slots.values()) slot.conn?.close();
    this.slots.clear();
  }

  private slot(endpoint: Endpoint): Slot {
    const key = endpointKey(endpoint);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { endpoint, conn: null, opening: null, failures: 0, retryAtMs: 0, lastError: null };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private async open(slot: Slot, label: string, deadlineMs: number): Promise<BrokerConnection> {
    const { settings } = this;
    try {
      const conn = await BrokerConnection.open(slot.endpoint, label, settings, deadlineMs);
      if (this.closed) {
        conn.close();
        throw closedError();
      }
      slot.conn = conn;
      slot.failures = 0;
      slot.lastError = null;
      conn.onClose((err) => {
        if (slot.conn !== conn) return;
        slot.conn = null;
        slot.lastError = err;
        slot.retryAtMs = nowMs() + backoffMs(1, settings.reconnectBackoffMs, settings.reconnectBackoffMsMax);
        settings.log.debug('link client connection closed', { broker: label, err: err.message });
      });
      return conn;
    } catch (err) {
      const error = err as KafkaClientError;
      slot.failures++;
      slot.lastError = error;
      slot.retryAtMs = nowMs() + backoffMs(slot.failures, settings.reconnectBackoffMs, settings.reconnectBackoffMsMax);
      settings.log.debug('link client cannot connect', { broker: label, failures: slot.failures, err: error.message });
      throw error;
    } finally {
      slot.opening = null;
    }
  }
}
