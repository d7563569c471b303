// The contract of an object store: immutable objects addressed by key, written whole, read whole or
// by byte range, listed by prefix, deleted. Engines: a local folder (default) and any S3-compatible
// store. Every engine passes the same contract tests against the real thing.
import { StraitError } from '../../common/errors.ts';
import { ErrorCode } from '../../protocol/generated/errors.ts';

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
}

export interface ObjectStore {
  readonly kind: string;
  /** Writes an object. With ifNoneMatch it fails with ObjectExistsError when the key is taken, and
   *  two racing writers cannot both succeed. Resolves once the object is durable. */
  put(key: string, body: Buffer | Buffer[], opts?: { ifNoneMatch?: boolean }): Promise<void>;
  /** The whole object, or bytes [start, end) of it. Fails with ObjectNotFoundError. */
  get(key: string, range?: { start: number; end: number }): Promise<Buffer>;
  /** Size of an object, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with prefix, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends StraitError {
  constructor(key: string) {
    super('STRAIT_OBJECT_NOT_FOUND', `object ${key} does not exist`, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

export class ObjectExistsError extends StraitError {
  constructor(key: string) {
    super('STRAIT_OBJECT_EXISTS', `object ${key} already exists`, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/** The store could not be reached or failed; callers retry, clients see a retriable error. */
export class ObjectStoreUnavailableError extends StraitError {
  constructor(message: string) {
    super('STRAIT_OBJECT_STORE_UNAVAILABLE', message, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/** A key the engine cannot store: empty, too long, or (in a folder) one that could escape the
 *  folder ('..', an absolute path) or clash with the layout ("a" and "a/b" both as objects). */
export class ObjectKeyInvalidError extends StraitError {
  constructor(key: string, reason: string) {
    super('STRAIT_OBJECT_KEY_INVALID', `object key ${JSON.stringify(key)} is invalid: ${reason}`, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/** A ranged get that starts at or beyond the object's end. As S3 does (416 InvalidRange), a range
 *  that only reaches past the end is cut at the end instead, and a range [start, end) needs
 *  0 <= start < end (anything else is a bug in the caller and fails an assertion). */
export class ObjectRangeInvalidError extends StraitError {
  constructor(key: string, start: number, sizeBytes?: number) {
    const size = sizeBytes === undefined ? '' : ` of ${sizeBytes} bytes`;
    super('STRAIT_OBJECT_RANGE_INVALID', `range start ${start} is beyond the end of object ${key}${size}`, ErrorCode.KAFKA_STORAGE_ERROR);
  }
}
