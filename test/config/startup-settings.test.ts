// The settings of safe start-up, shutdown and request-byte bounds: defaults, -1 for unbounded,
// and 0 refused (a bound of nothing would never read a request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { StraitError } from '../../src/common/errors.ts';

test('defaults: 256 MiB of request bytes for the broker, 64 MiB per connection, a 30 s shutdown', () => {
  const c = loadBrokerConfig({});
  assert.equal(c.queuedRequestBytesMax, 256 * 1024 * 1024);
  assert.equal(c.inflightRequestBytesMax, 64 * 1024 * 1024);
  assert.equal(c.shutdownTimeoutMs, 30_000);
});

test('-1 makes a request-byte bound unbounded (Kafka\'s queued.max.request.bytes default)', () => {
  const c = loadBrokerConfig({ flags: { 'queued.max.request.bytes': '-1', 'queued.max.request.bytes.per.connection': '-1' } });
  assert.equal(c.queuedRequestBytesMax, -1);
  assert.equal(c.inflightRequestBytesMax, -1);
});

const refused: [string, string, RegExp][] = [
  ['queued.max.request.bytes', '0', /queued\.max\.request\.bytes must be -1 \(unbounded\) or at least 1/],
  ['queued.max.request.bytes.per.connection', '0', /queued\.max\.request\.bytes\.per\.connection must be -1 \(unbounded\) or at least 1/],
  ['queued.max.request.bytes', '-2', /queued\.max\.request\.bytes must be at least -1/],
  ['shutdown.timeout.ms', '0', /shutdown\.timeout\.ms must be at least 1/],
];
for (const [key, value, message] of refused) {
  test(`${key}=${value} is refused`, () => {
    assert.throws(
      () => loadBrokerConfig({ flags: { [key]: value } }),
      (err: unknown) => err instanceof StraitError && err.code === 'STRAIT_CONFIG_INVALID' && message.test(err.message),
    );
  });
}
