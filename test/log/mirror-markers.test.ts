// Issue #11, defect 3 (the log's part): a mirror's transaction markers come from its source; a local
// marker written into a mirror makes it diverge from the source (or stall behind it). The partition
// log refuses them while it is a mirror, and takes them again once promoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

test('a mirror refuses local transaction markers and writes; once promoted it takes them', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000' });
  try {
    const c = await RawClient.connect(b.port);
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'mm', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'mm' }] })).topics[0].topicId;
    c.close();
    const log = b.broker.logs!.get(topicId, 0)!;
    log.becomeMirror("Topic 'mm' is a mirror", null);
    const refused = await log.appendMarker(42, 0, 0, false, Date.now());
    assert.equal(refused.errorCode, ErrorCode.POLICY_VIOLATION);
    assert.equal(log.highWatermark, 0, 'nothing was written into the mirror');
    assert.equal(log.nextOffset, 0);
    log.promote(5);
    const written = await log.appendMarker(42, 0, 0, false, Date.now());
    assert.deepEqual([written.errorCode, written.baseOffset, log.highWatermark], [ErrorCode.NONE, 0, 1]);
  } finally {
    await b.stop();
  }
});
