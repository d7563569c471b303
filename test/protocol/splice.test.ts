// Large record batches leave the encoder as separate buffers; the bytes on the wire are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeResponseFrame } from '../../src/api/router.ts';
import { FetchResponse } from '../../src/protocol/generated/fetch-response.ts';

test('records fields of 16 KiB or more are spliced, small ones copied, wire bytes identical', () => {
  const big = randomBytes(100_000);
  const small = randomBytes(100);
  const body = {
    responses: [
      { topic: 't', topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', partitions: [{ partitionIndex: 0, records: big }, { partitionIndex: 1, records: small }] },
    ],
  };
  for (const v of [4, 11, 12, 16]) {
    const parts = encodeResponseFrame(FetchResponse, body, v, 99, v >= 12 ? 1 : 0);
    assert.ok(parts.includes(big), `v${v}: the big batch buffer is passed through`);
    assert.ok(!parts.includes(small), `v${v}: the small one is copied`);
    const wire = Buffer.concat(parts);
    assert.equal(wire.readInt32BE(0), wire.length - 4);
    const header = v >= 12 ? 5 : 4;
    const expected = FetchResponse.encode(body, v);
    assert.ok(wire.subarray(4 + header).equals(expected), `v${v}: same bytes as a plain encode`);
  }
});
