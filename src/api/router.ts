// Turns request frames into handler calls and handler results into response frames: header
// versions, KIP-511 ApiVersions fallback, and which APIs and versions this broker serves.
import { Reader, SizeCache, Writer, ProtocolDecodeError, ProtocolEncodeError } from '../protocol/primitives.ts';
import { API_SPECS, ApiKey } from '../protocol/generated/api-table.ts';
import { RequestHeader } from '../protocol/generated/request-header.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { CloseConnection } from '../network/connection.ts';
import type { ConnectionInfo, RequestHandler } from '../network/connection.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

export class ApiRouter implements RequestHandler {
  private readonly handlers = new Map<number, ApiHandler>();
  private services: BrokerServices | null = null;

  register(handler: ApiHandler): void {
    const spec = API_SPECS.get(handler.apiKey);
    if (!spec) throw new Error(`no protocol definition for API key ${handler.apiKey}`);
    if (handler.minVersion < spec.minVersion || handler.maxVersion > spec.maxVersion) {
      throw new Error(`${spec.name} handler versions ${handler.minVersion}-${handler.maxVersion} exceed the definition's ${spec.minVersion}-${spec.maxVersion}`);
    }
    this.handlers.set(handler.apiKey, handler);
  }

  bind(services: BrokerServices): void {
    this.services = services;
  }

  /** What ApiVersions advertises: exactly the registered handlers' ranges. */
  apiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.handlers.values()]
      .sort((a, b) => a.apiKey - b.apiKey)
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
  }

  async handle(frame: Buffer, conn: ConnectionInfo): Promise<Buffer[] | null> {
    if (frame.length < 8) throw new CloseConnection(`request frame of ${frame.length} bytes is too short for a header`);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.handlers.get(apiKey);
    if (!handler) throw new CloseConnection(`unsupported API key ${apiKey}`);
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions && apiVersion > handler.maxVersion) return [this.apiVersionsFallback(correlationId, handler)];
      throw new CloseConnection(`unsupported version ${apiVersion} of API ${API_SPECS.get(apiKey)!.name}`);
    }
    const spec = API_SPECS.get(apiKey)!;
    const flexible = spec.flexibleMinVersion >= 0 && apiVersion >= spec.flexibleMinVersion;
    let request: unknown;
    let clientId: string | null;
    try {
      const r = new Reader(frame);
      const header = RequestHeader.read(r, flexible ? 2 : 1);
      clientId = header.clientId;
      request = spec.request.read(r, apiVersion);
    } catch (err) {
      if (err instanceof ProtocolDecodeError) throw new CloseConnection(`malformed ${spec.name} v${apiVersion}: ${err.message}`);
      throw err;
    }
    const ctx: RequestContext = { apiKey, apiVersion, correlationId, clientId, conn, broker: this.services! };
    const response = await handler.handle(request, ctx);
    if (response === null) return null;
    // KIP-511: ApiVersions responses always use header v0 so any client can read them.
    const headerVersion = flexible && apiKey !== ApiKey.ApiVersions ? 1 : 0;
    try {
      return encodeResponseFrame(spec.response, response, apiVersion, correlationId, headerVersion);
    } catch (err) {
      if (err instanceof ProtocolEncodeError) throw new Error(`cannot encode ${spec.name} response v${apiVersion}: ${err.message}`);
      throw err;
    }
  }

  /** KIP-511: a client asking for a newer ApiVersions than we know gets a v0 answer naming our range. */
  private apiVersionsFallback(correlationId: number, handler: ApiHandler): Buffer {
    const body = {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: handler.minVersion, maxVersion: handler.maxVersion }],
    };
    return encodeResponseFrame(API_SPECS.get(ApiKey.ApiVersions)!.response, body, 0, correlationId, 0)[0]!;
  }
}

/** Record batches at least this large are written to the socket as they are, not copied. */
const SPLICE_BYTES_MIN = 16 * 1024;

/** Size prefix, response header and body: one size pass, one allocation for everything but large
 *  record batches (those are passed through as separate buffers), one write pass. */
export function encodeResponseFrame(
  codec: { size(m: any, v: number, c: SizeCache): number; write(w: Writer, m: any, v: number, c: SizeCache): void },
  body: unknown,
  version: number,
  correlationId: number,
  headerVersion: number,
): Buffer[] {
  const c = new SizeCache();
  c.spliceBytesMin = SPLICE_BYTES_MIN;
  const bodySize = codec.size(body, version, c);
  const headerSize = headerVersion >= 1 ? 5 : 4;
  const buf = Buffer.allocUnsafe(4 + headerSize + bodySize - c.splicedBytes);
  const w = new Writer(buf);
  w.enableSplicing();
  w.int32(headerSize + bodySize);
  w.int32(correlationId);
  if (headerVersion >= 1) w.uvarint(0);
  codec.write(w, body, version, c);
  if (w.pos !== buf.length) throw new Error(`response size mismatch: ${w.pos} != ${buf.length}`);
  return w.finish();
}
