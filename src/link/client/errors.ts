// The one error class of the link client. Every failure a caller sees is a KafkaClientError: `code`
// says what kind of failure it is (a stable STRAIT_LINK_* string), `errorName` and `kafkaError` name
// the Kafka error (the broker's own, or the closest Kafka error for a local failure: a refused
// connection is NETWORK_EXCEPTION, a timeout REQUEST_TIMED_OUT), and `retriable` tells whether the
// same request may succeed later.
import { StraitError } from '../../common/errors.ts';
import { ERRORS, ErrorCode } from '../../protocol/generated/errors.ts';

export type KafkaClientErrorCode =
  /** The broker answered with a Kafka error code (the request or one partition of it). */
  | 'STRAIT_LINK_KAFKA_ERROR'
  /** An operation or a request did not complete within its time limit. */
  | 'STRAIT_LINK_TIMEOUT'
  /** A connection could not be opened, or it closed with requests in flight. */
  | 'STRAIT_LINK_CONNECTION'
  /** The broker and this client share no version of an API the operation needs. */
  | 'STRAIT_LINK_UNSUPPORTED_VERSION'
  /** The broker sent bytes that are not the response we expected. */
  | 'STRAIT_LINK_PROTOCOL'
  /** TLS or SASL authentication failed. */
  | 'STRAIT_LINK_AUTHENTICATION'
  /** More requests wait for a connection than its queue holds. */
  | 'STRAIT_LINK_QUEUE_FULL'
  /** The client was closed. */
  | 'STRAIT_LINK_CLOSED'
  /** The caller asked for something that cannot be done (bad options, unknown partition index). */
  | 'STRAIT_LINK_INVALID_ARGUMENT';

export interface KafkaClientErrorDetails {
  retriable?: boolean;
  /** The error message the broker sent with the code, where the protocol has a field for it. */
  brokerMessage?: string | null;
  cause?: unknown;
}

export class KafkaClientError extends StraitError {
  override name = 'KafkaClientError';
  declare readonly code: KafkaClientErrorCode;
  /** Kafka's name for kafkaError, e.g. NOT_LEADER_OR_FOLLOWER. */
  readonly errorName: string;
  readonly retriable: boolean;
  readonly brokerMessage: string | null;

  constructor(code: KafkaClientErrorCode, message: string, kafkaError: number, details: KafkaClientErrorDetails = {}) {
    super(code, message, kafkaError);
    this.errorName = errorNameOf(kafkaError);
    this.retriable = details.retriable ?? ERRORS.get(kafkaError)?.retriable ?? false;
    this.brokerMessage = details.brokerMessage ?? null;
    if (details.cause !== undefined) this.cause = details.cause;
  }
}

export function errorNameOf(kafkaError: number): string {
  return ERRORS.get(kafkaError)?.name ?? `UNKNOWN_ERROR_CODE_${kafkaError}`;
}

/** The error for a Kafka error code in a response; `where` says which request or partition got it. */
export function kafkaError(errorCode: number, where: string, brokerMessage: string | null = null): KafkaClientError {
  const name = errorNameOf(errorCode);
  const message = brokerMessage ? `${where}: ${name} (${brokerMessage})` : `${where}: ${name}`;
  return new KafkaClientError('STRAIT_LINK_KAFKA_ERROR', message, errorCode, { brokerMessage });
}

export function connectionError(message: string, cause?: unknown): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_CONNECTION', message, ErrorCode.NETWORK_EXCEPTION, { retriable: true, cause });
}

export function timeoutError(message: string, cause?: unknown): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_TIMEOUT', message, ErrorCode.REQUEST_TIMED_OUT, { retriable: true, cause });
}

export function protocolError(message: string, cause?: unknown): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_PROTOCOL', message, ErrorCode.UNKNOWN_SERVER_ERROR, { retriable: false, cause });
}

export function closedError(message = 'the Kafka client is closed'): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_CLOSED', message, ErrorCode.NETWORK_EXCEPTION, { retriable: false });
}

export function invalidArgument(message: string): KafkaClientError {
  return new KafkaClientError('STRAIT_LINK_INVALID_ARGUMENT', message, ErrorCode.INVALID_REQUEST, { retriable: false });
}

/** Wraps anything thrown below the client (a bug, a decode failure) so callers only see one class. */
export function asClientError(err: unknown, where: string): KafkaClientError {
  if (err instanceof KafkaClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return protocolError(`${where}: ${message}`, err);
}

// Errors after which the client's view of partition leadership is probably stale: refresh the
// metadata before the retry (KIP-320 adds the epoch errors, KIP-516 the topic id ones).
const REFRESH_METADATA_ON = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INCONSISTENT_TOPIC_ID,
  ErrorCode.OFFSET_NOT_AVAILABLE,
]);

export function needsMetadataRefresh(err: KafkaClientError): boolean {
  return REFRESH_METADATA_ON.has(err.kafkaError);
}

/**
 * Failures of the client as a whole (closed, credentials or certificates refused) rather than of
 * one partition or group: operations reject with them instead of reporting them per partition.
 */
export function isClientWide(err: KafkaClientError): boolean {
  return err.code === 'STRAIT_LINK_CLOSED' || err.code === 'STRAIT_LINK_AUTHENTICATION';
}

/** Errors that mean the caller's leader epoch is out of date (KIP-320); retrying it unchanged is useless. */
export function isEpochError(errorCode: number): boolean {
  return errorCode === ErrorCode.FENCED_LEADER_EPOCH || errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH;
}

/** Errors after which a group's coordinator must be looked up again. */
export function isCoordinatorMoved(errorCode: number): boolean {
  return errorCode === ErrorCode.NOT_COORDINATOR || errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE;
}
