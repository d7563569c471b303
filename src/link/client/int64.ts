// Kafka's int64 offsets and timestamps travel as bigint in the codec; the rest of Strait holds
// them as numbers (exact to 2^53, as the record-batch layer checks). Convert at the boundary, loudly.
import { protocolError } from './errors.ts';

export function toNumber(v: bigint, field: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw protocolError(`${field} ${v} is beyond ±2^53`);
  return n;
}

export function toBigInt(n: number): bigint {
  return BigInt(n);
}
