// Issue #11, defect 8: when a flush fails and cutting the failed bytes off fails too, the WAL moves
// to a new segment, and the partition's log reuses the failed offsets there. The old segment still
// holds the rejected entries, and a replay used to bring them back and skip the acknowledged ones
// written later at the same offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWal } from '../../src/storage/wal/index.ts';
import type { WalEntry } from '../../src/storage/wal/index.ts';
import { silentLogger } from '../../src/common/logger.ts';

const TOPIC = 'AAAAAAAAAAAAAAAAAAAAAA';
const entry = (base: number, text: string): WalEntry => ({ topicId: TOPIC, partition: 0, baseOffset: base, endOffset: base + 1, data: Buffer.from(text) });

test('a rejected flush whose bytes cannot be cut off never comes back on replay; what was acknowledged after it does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-wal-'));
  try {
    let failSync = false;
    const wal = new FileWal({ dir, segmentBytesMax: 1 << 20, flushBytesMax: 1 << 20, flushLingerMs: 0, log: silentLogger, faults: (step) => (step === 'sync' && failSync ? new Error('EIO') : null) });
    await wal.open();
    await wal.append(entry(0, 'acked-0'));
    // The next fsync fails after the bytes were written, and so does cutting them off (the disk is
    // failing): the WAL gives up on the segment and goes on in a new one.
    failSync = true;
    const fh = (wal as unknown as { fh: { truncate: (n: number) => Promise<void> } }).fh;
    const truncate = fh.truncate.bind(fh);
    fh.truncate = async () => {
      fh.truncate = truncate;
      throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
    };
    await assert.rejects(wal.append(entry(1, 'rejected-1')), /WAL write failed/);
    failSync = false;
    // The partition's log moved its end back to 1: the next append reuses offset 1.
    await wal.append(entry(1, 'acked-1'));
    await wal.append(entry(2, 'acked-2'));
    await wal.close();

    const again = new FileWal({ dir, segmentBytesMax: 1 << 20, flushBytesMax: 1 << 20, flushLingerMs: 0, log: silentLogger });
    const replay = await again.open();
    await again.close();
    assert.deepEqual(
      replay.map((e) => `${e.baseOffset}:${e.data.toString()}`),
      ['0:acked-0', '1:acked-1', '2:acked-2'],
      'only acknowledged entries, each once',
    );
    // And once more: the replayed state must not depend on replaying only once.
    const third = new FileWal({ dir, segmentBytesMax: 1 << 20, flushBytesMax: 1 << 20, flushLingerMs: 0, log: silentLogger });
    assert.deepEqual((await third.open()).map((e) => `${e.baseOffset}:${e.data.toString()}`), ['0:acked-0', '1:acked-1', '2:acked-2']);
    await third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
