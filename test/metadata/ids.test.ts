import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';

// kafka-storage format -t <id> reads an id starting with '-' as a flag: one random id in 64 would
// break a test broker's start (seen in CI). Ids come from here, so they must never start with '-'.
test('random Kafka ids are 22 base64url characters for 16 bytes, never starting with "-"', () => {
  let dashInside = 0;
  for (let i = 0; i < 20_000; i++) {
    const id = randomKafkaUuid();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
    if (id.includes('-')) dashInside++;
  }
  assert.ok(dashInside > 0, 'the alphabet still includes "-" after the first character');
});
