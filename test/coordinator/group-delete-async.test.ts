// Group deletion with a metadata store whose writes take time (PostgreSQL): a group's state saved
// just before DeleteGroups must not land after the delete and bring the group back on restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import type { MetadataStore } from '../../src/metadata/index.ts';
import { GroupCoordinator } from '../../src/coordinator/group-coordinator.ts';
import { groupCoordinatorConfig } from '../../src/coordinator/group-config.ts';
import { TopicCatalog } from '../../src/cluster/catalog.ts';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';

test('a group deleted right after its last member left stays deleted when its state writes are slow', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-gdel-'));
  const sqlite = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
  await sqlite.open();
  t.after(async () => {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Every saveGroup takes 30 ms (a round trip to a remote database); deletes are quick.
  const store: MetadataStore = Object.create(sqlite);
  store.saveGroup = async (g) => {
    await new Promise((r) => setTimeout(r, 30));
    return sqlite.saveGroup(g);
  };
  const catalog = new TopicCatalog();
  await catalog.load(store);
  const groups = new GroupCoordinator({ store, catalog, config: groupCoordinatorConfig(loadBrokerConfig({}).values), log: silentLogger });
  await groups.load();
  const beat = (memberId: string, memberEpoch: number) =>
    groups.consumerGroupHeartbeat({
      groupId: 'g',
      memberId,
      memberEpoch,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: memberEpoch === 0 ? ['t'] : null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: memberEpoch === 0 ? [] : null,
      clientId: 'c',
      clientHost: '/127.0.0.1',
    } as Parameters<GroupCoordinator['consumerGroupHeartbeat']>[0]);
  const joined = await beat('m1', 0);
  assert.equal(joined.errorCode, ErrorCode.NONE);
  const left = await beat(joined.memberId!, -1);
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.deepEqual(await groups.deleteGroups(['g']), [{ groupId: 'g', errorCode: ErrorCode.NONE }]);
  await new Promise((r) => setTimeout(r, 200));
  groups.shutdown();
  assert.deepEqual((await sqlite.groups()).map((g) => g.groupId), [], 'the deleted group is not in the store');
});
