// CRC-32C throughput of each implementation (native @node-rs/crc32, pure TypeScript slicing-by-8,
// and `crc32c`, which picks between them by size) over buffers of typical batch sizes.
//
//   node bench/crc32c.ts [--json]
//
// Each case runs for about 200 ms after a warm-up; the result is MB/s (10^6 bytes per second).
// The small sizes show the N-API call overhead that sets NATIVE_MIN_BYTES in crc32c.ts.
import { randomBytes } from 'node:crypto';
import { crc32c, crc32cImplementation, crc32cNative, crc32cPure } from '../src/protocol/records/crc32c.ts';
import type { Crc32cFn } from '../src/protocol/records/crc32c.ts';

const SIZES = [16, 64, 128, 192, 256, 512, 1024, 16 * 1024, 1024 * 1024];
const RUN_MS = 200;

function measure(fn: Crc32cFn, buf: Buffer): number {
  let sink = 0;
  for (let i = 0; i < 1000; i++) sink ^= fn(buf); // warm-up, lets the JIT settle
  let bytes = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  // Check the clock every batch of calls so the timer does not dominate tiny buffers.
  const perCheck = Math.max(1, Math.floor((1 << 20) / buf.length));
  while (now < deadline) {
    for (let i = 0; i < perCheck; i++) sink ^= fn(buf);
    bytes += perCheck * buf.length;
    now = process.hrtime.bigint();
  }
  if (sink === 0.5) console.log('unreachable'); // keeps the calls from being optimised away
  return bytes / (Number(now - start) / 1e9) / 1e6;
}

const impls: [string, Crc32cFn][] = [['pure', crc32cPure]];
if (crc32cNative !== null) impls.push(['native', crc32cNative]);
impls.push([`crc32c (${crc32cImplementation})`, crc32c]);

const results: { implementation: string; sizeBytes: number; mbPerSec: number }[] = [];
console.log(`CRC-32C throughput, MB/s (node ${process.version}, ${process.arch})`);
console.log(['size'.padStart(9), ...impls.map(([n]) => n.padStart(18))].join(''));
for (const size of SIZES) {
  const buf = randomBytes(size);
  const row = [String(size).padStart(9)];
  for (const [name, fn] of impls) {
    const mbPerSec = measure(fn, buf);
    results.push({ implementation: name, sizeBytes: size, mbPerSec: Math.round(mbPerSec) });
    row.push(mbPerSec.toFixed(0).padStart(18));
  }
  console.log(row.join(''));
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ bench: 'crc32c', results }));
