// Every valid version of every message: random non-default values survive encode → decode, and
// re-encoding the decoded value gives the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as generated from '../../src/protocol/generated/index.ts';
import type { MessageCodec } from '../../src/protocol/codec.ts';
import { SCHEMA, randomMessage, defaultMessage } from './schema-values.ts';

const codecs = generated as unknown as Record<string, MessageCodec<any>>;

test('the generated index exposes a codec for every schema entry', () => {
  const names = Object.keys(SCHEMA);
  assert.ok(names.length > 180, `only ${names.length} messages`);
  for (const name of names) assert.equal(typeof codecs[name]?.encode, 'function', name);
});

for (const [name, msg] of Object.entries(SCHEMA)) {
  test(`round trip ${name} v${msg.versions[0]}-${msg.versions[1]}`, () => {
    const codec = codecs[name]!;
    for (let v = msg.versions[0]; v <= msg.versions[1]; v++) {
      for (let seed = 1; seed <= 3; seed++) {
        const value = randomMessage(name, v, seed);
        const bytes = codec.encode(value, v);
        const decoded = codec.decode(bytes, v);
        assert.deepStrictEqual(decoded, value, `${name} v${v} seed ${seed}`);
        assert.ok(codec.encode(decoded, v).equals(bytes), `${name} v${v} re-encode differs`);
      }
      // Defaults-only value: what a writer produces when a handler leaves every field out.
      const empty = codec.encode({}, v);
      assert.deepStrictEqual(codec.decode(empty, v), defaultMessage(name), `${name} v${v} defaults`);
    }
  });
}
