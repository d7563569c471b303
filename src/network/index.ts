// The network layer's surface.
export { KafkaServer } from './server.ts';
export type { ListenerSpec } from './server.ts';
export { CloseConnection } from './connection.ts';
export type { ConnectionInfo, RequestHandler, ConnectionLimits } from './connection.ts';
