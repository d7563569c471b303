// DELETE /v1/links/:name against the real LinkManager behind the real HTTP server of a broker, with a
// real Apache Kafka 4.3.1 source (server.test.ts checks the HTTP mapping against a fake service):
// a link whose topics still mirror is refused (409 STRAIT_LINK_HAS_MIRRORS) and nothing changes;
// ?force=true fails the topics over first and deletes the link; a link whose topics are all
// promoted deletes without force.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from '../compat/harness.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey, KafkaClient } from '../../src/link/client/index.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

let kafka: KafkaHandle;
let strait: TestBroker;
let source: KafkaClient;
let local: KafkaClient;

interface Answer {
  status: number;
  body: any;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${strait.broker.http!.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  [kafka, strait] = await Promise.all([startApacheKafka({ config: { 'auto.create.topics.enable': 'false' } }), startTestBroker({ 'upload.interval.ms': '200' })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  local = new KafkaClient({ bootstrap: `127.0.0.1:${strait.port}` });
  for (const name of ['kept', 'done']) {
    const { response } = await source.sendRequest<any>('controller', ApiKey.CreateTopics, () => ({ topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false }));
    assert.equal(response.topics[0].errorCode, 0);
    await source.metadata({ topics: [name] });
    const [out] = await source.produce([{ topic: name, partition: 0, records: buildBatch({ records: Array.from({ length: 10 }, (_, i) => ({ value: `${name}-${i}` })) }) }], { acks: -1 });
    assert.equal(out!.error, null);
  }
});

after(async () => {
  await source?.close();
  await local?.close();
  await strait?.stop();
  await kafka?.stop();
});

async function createMirroredLink(name: string, topic: string): Promise<void> {
  const created = await call('POST', '/v1/links', { name, bootstrap: kafka.bootstrap, topics: { include: [topic] }, metadataSyncIntervalMs: 300, writeForwarding: false });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = await call('GET', `/v1/links/${name}`);
    if (d.body.mirrors?.[0]?.partitions?.[0]?.mirroredEndOffset === 10) return;
    if (Date.now() > deadline) assert.fail(`the mirror of ${topic} did not catch up: ${JSON.stringify(d.body)}`);
    await sleep(100);
  }
}

const produceLocal = async (topic: string) => (await local.produce([{ topic, partition: 0, records: buildBatch({ records: [{ value: 'local' }] }) }], { acks: -1, retriesMax: 0 }))[0]!;

test('a link whose topic still mirrors is not deleted (409, nothing changes); with force it is failed over and deleted', async () => {
  await createMirroredLink('live', 'kept');
  const refused = await call('DELETE', '/v1/links/live');
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'STRAIT_LINK_HAS_MIRRORS');
  assert.match(refused.body.error.message, /still mirrors kept/);
  // Nothing changed: the link is there, the topic still mirrors and still refuses local writes.
  const still = await call('GET', '/v1/links/live');
  assert.equal(still.status, 200);
  assert.equal(still.body.state, 'active');
  assert.equal(still.body.mirrors[0].state, 'mirroring');
  const refusedWrite = await produceLocal('kept');
  assert.ok(refusedWrite.error, 'the mirror still refuses local writes');
  const [more] = await source.produce([{ topic: 'kept', partition: 0, records: buildBatch({ records: [{ value: 'kept-10' }] }) }], { acks: -1 });
  assert.equal(more!.error, null);
  for (let i = 0; ; i++) {
    const d = await call('GET', '/v1/links/live');
    if (d.body.mirrors[0].partitions[0].mirroredEndOffset === 11) break;
    if (i > 200) assert.fail(`the link stopped mirroring after the refused delete: ${JSON.stringify(d.body.mirrors[0])}`);
    await sleep(100);
  }

  const deleted = await call('DELETE', '/v1/links/live?force=true');
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  assert.equal((await call('GET', '/v1/links/live')).status, 404);
  assert.ok(!(await call('GET', '/v1/links')).body.links.some((l: any) => l.name === 'live'), 'the link is not listed');
  // Failed over: the topic takes local writes at the next offset.
  const written = await produceLocal('kept');
  assert.equal(written.error, null, String(written.error));
  assert.equal(written.baseOffset, 11);
});

test('a link whose topics are all promoted deletes without force', async () => {
  await createMirroredLink('finished', 'done');
  const promoted = await call('POST', '/v1/links/finished/promote', { timeoutMs: 20_000 });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  assert.equal(promoted.body.topics[0].state, 'promoted');
  const deleted = await call('DELETE', '/v1/links/finished');
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  assert.equal((await call('GET', '/v1/links/finished')).status, 404);
  const written = await produceLocal('done');
  assert.equal(written.error, null, String(written.error));
  assert.equal(written.baseOffset, 10);
});
