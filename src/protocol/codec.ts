// The surface every generated message module exposes.
import type { Input, Reader, SizeCache, Writer } from './primitives.ts';

export interface MessageCodec<T> {
  name: string;
  apiKey: number;
  kind: 'request' | 'response' | 'header' | 'data';
  minVersion: number;
  maxVersion: number;
  /** First version with compact strings/arrays and tagged fields, or -1 when none is flexible. */
  flexibleMinVersion: number;
  latestVersionUnstable: boolean;
  read(r: Reader, version: number): T;
  size(m: Input<T>, version: number, c: SizeCache): number;
  write(w: Writer, m: Input<T>, version: number, c: SizeCache): void;
  encode(m: Input<T>, version: number): Buffer;
  decode(buf: Buffer, version: number): T;
  /** A fresh value with every field at its schema default. */
  defaults(): T;
}
