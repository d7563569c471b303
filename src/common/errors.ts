// Strait's own error class. `code` is a stable string that reaches the CLI, the HTTP API and logs
// unchanged; `kafkaError` is the Kafka error code a client sees when the error crosses the wire.
import { ErrorCode } from '../protocol/generated/errors.ts';

export class StraitError extends Error {
  override name = 'StraitError';
  readonly code: string;
  readonly kafkaError: number;

  constructor(code: string, message: string, kafkaError: number = ErrorCode.UNKNOWN_SERVER_ERROR) {
    super(message);
    this.code = code;
    this.kafkaError = kafkaError;
  }
}

/** Invariant check: a failure is a bug in Strait, never bad input, so it crashes loudly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
