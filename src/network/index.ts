// The network layer's surface.
export { KafkaServer } from './server.ts';
export type { ListenerSpec, ServerLimits } from './server.ts';
export { HeldListener } from './held-listener.ts';
export { CloseConnection } from './connection.ts';
export type { ConnectionInfo, RequestHandler, ConnectionLimits } from './connection.ts';
