// The reverse copier races every read and produce with stop(); those races must not keep what they
// returned alive (a race against one long-lived promise would: a 1 GiB copy back held 3 GiB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ReverseCopier } from '../../src/link/reverse-copier.ts';
import type { ReverseCopierOptions } from '../../src/link/reverse-copier.ts';
import { silentLogger } from '../../src/common/logger.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function copier(): ReverseCopier {
  // Nothing is started: guard() and stop() need no client, log or group coordinator.
  return new ReverseCopier({
    linkName: 'l',
    client: {} as ReverseCopierOptions['client'],
    logs: {} as ReverseCopierOptions['logs'],
    topic: { name: 't', partitionCount: 1 } as ReverseCopierOptions['topic'],
    fromOffsets: new Map([[0, 0]]),
    groups: {} as ReverseCopierOptions['groups'],
    acceptGroup: () => false,
    log: silentLogger,
    groupSyncIntervalMs: 1000,
  });
}

/** Guards n promises of 4 MiB buffers and waits for each; returns weak references to the buffers. */
async function guardBuffers(c: ReverseCopier, n: number): Promise<WeakRef<ArrayBuffer>[]> {
  const refs: WeakRef<ArrayBuffer>[] = [];
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(4 << 20, i);
    refs.push(new WeakRef(b.buffer));
    assert.equal((await c.guard(Promise.resolve(b)))[0], i % 256);
  }
  return refs;
}

test('guard() keeps nothing of what it returned once the caller lets go', async () => {
  const c = copier();
  const refs = await guardBuffers(c, 20);
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 20 guarded 4 MiB results are still held`);
});

test('stop() rejects what guard() is still waiting for, and later guards at once', async () => {
  const c = copier();
  const pending = c.guard(new Promise<number>(() => {}));
  await c.stop();
  await assert.rejects(pending, /stopped/);
  await assert.rejects(c.guard(Promise.resolve(1)), /stopped/);
});
