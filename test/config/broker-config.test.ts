// Broker configuration: precedence of sources and one clear message per wrong value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBrokerConfig, parseProperties, envKey } from '../../src/config/broker-config.ts';
import { StraitError } from '../../src/common/errors.ts';

test('defaults: one PLAINTEXT listener on 127.0.0.1:9092, node 1, 100 MiB requests', () => {
  const c = loadBrokerConfig({});
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  assert.deepEqual(c.advertisedListeners, c.listeners);
  assert.equal(c.nodeId, 1);
  assert.equal(c.requestSizeBytesMax, 104857600);
  assert.equal(c.autoCreateTopics, true);
});

test('file < environment < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-cfg-'));
  const file = join(dir, 'broker.properties');
  writeFileSync(file, '# comment\nnode.id=7\nnum.partitions = 3\nlog.level: warn\n');
  const c = loadBrokerConfig({ file, env: { STRAIT_NUM_PARTITIONS: '5', HOME: '/x' }, flags: { 'log.level': 'debug' } });
  assert.equal(c.nodeId, 7);
  assert.equal(c.defaultPartitions, 5);
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.origins['node.id'], `file ${file}`);
  assert.equal(c.origins['num.partitions'], 'environment');
});

test('every wrong value is reported at once, with where it came from', () => {
  try {
    loadBrokerConfig({
      env: { STRAIT_NODE_ID: 'one' },
      flags: { listeners: 'localhost:9092', 'num.partitons': '3', 'auto.create.topics.enable': 'maybe', 'socket.request.max.bytes': '10' },
    });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof StraitError);
    assert.equal(err.code, 'STRAIT_CONFIG_INVALID');
    assert.match(err.message, /environment: node\.id must be an integer, got 'one'/);
    assert.match(err.message, /command line: unknown config 'num\.partitons' \(did you mean 'num\.partitions'\?\)/);
    assert.match(err.message, /listeners 'localhost:9092' is not of the form NAME:\/\/host:port/);
    assert.match(err.message, /auto\.create\.topics\.enable must be true or false/);
    assert.match(err.message, /socket\.request\.max\.bytes must be at least 1024/);
  }
});

test('advertised listeners must be reachable hosts', () => {
  assert.throws(() => loadBrokerConfig({ flags: { listeners: 'PLAINTEXT://0.0.0.0:9092' } }), /advertised\.listeners must name a host/);
  const c = loadBrokerConfig({ flags: { listeners: 'PLAINTEXT://0.0.0.0:9092', 'advertised.listeners': 'PLAINTEXT://kafka.example:9092' } });
  assert.equal(c.advertisedListeners[0]!.host, 'kafka.example');
});

test('properties parsing and environment names', () => {
  assert.deepEqual(parseProperties('a=1\n! c\nb : two words\n\n  c=x=y'), { a: '1', b: 'two words', c: 'x=y' });
  assert.equal(envKey('STRAIT_DATA_DIR'), 'data.dir');
  assert.equal(envKey('PATH'), null);
});

test('http.listener: host:port, port 0 for a free port, empty disables, bad values named with their source', () => {
  assert.deepEqual(loadBrokerConfig({}).httpListener, { host: '127.0.0.1', port: 9095 });
  assert.deepEqual(loadBrokerConfig({ flags: { 'http.listener': '0.0.0.0:0' } }).httpListener, { host: '0.0.0.0', port: 0 });
  assert.deepEqual(loadBrokerConfig({ flags: { 'http.listener': '[::1]:8080' } }).httpListener, { host: '::1', port: 8080 });
  assert.equal(loadBrokerConfig({ flags: { 'http.listener': '' } }).httpListener, null);
  assert.equal(loadBrokerConfig({ env: { STRAIT_HTTP_LISTENER: '' } }).httpListener, null);
  assert.throws(() => loadBrokerConfig({ env: { STRAIT_HTTP_LISTENER: 'localhost' } }), /environment: http\.listener must be host:port \(or empty to disable\), got 'localhost'/);
  assert.throws(() => loadBrokerConfig({ flags: { 'http.listener': 'http://127.0.0.1:9095' } }), /command line: http\.listener must be host:port/);
  assert.throws(() => loadBrokerConfig({ flags: { 'http.listener': '127.0.0.1:70000' } }), /command line: http\.listener port 70000 in '127\.0\.0\.1:70000' is out of range/);
});

test('STRAIT_ADMIN_URL is the CLI\'s setting, not an unknown broker config', () => {
  assert.equal(envKey('STRAIT_ADMIN_URL'), null);
  assert.doesNotThrow(() => loadBrokerConfig({ env: { STRAIT_ADMIN_URL: 'http://127.0.0.1:9095' } }));
});
