// Producer ids with a metadata store whose answers arrive late and out of order (PostgreSQL): an id
// block reserved before reserveAbove() must not be handed out when it lies at or below the floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import type { MetadataStore } from '../../src/metadata/index.ts';
import { ProducerIdManager } from '../../src/coordinator/producer-ids.ts';

test('a block whose answer arrives after reserveAbove is not used below the floor', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-pid-'));
  const store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await store.open();
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The first reservation (a block refill) is answered 50 ms late; later ones at once.
  let calls = 0;
  const slow: MetadataStore = Object.create(store);
  slow.reserveIds = async (counter, count) => {
    const answer = await store.reserveIds(counter, count);
    if (calls++ === 0) await new Promise((r) => setTimeout(r, 50));
    return answer;
  };
  const ids = new ProducerIdManager(slow);
  const first = ids.nextId();
  await new Promise((r) => setTimeout(r, 5));
  await ids.reserveAbove(5000);
  const got = [await first, await ids.nextId(), await ids.nextId()];
  for (const id of got) assert.ok(id > 5000, `id ${id} handed out at or below the reserved floor 5000 (${got.join(', ')})`);
  assert.equal(new Set(got).size, 3);
});
