// The API layer's surface: the router and every handler this broker serves.
import { ApiRouter } from './router.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { metadataHandler } from './metadata.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeTopicPartitionsHandler } from './describe-topic-partitions.ts';
import { produceHandler } from './produce.ts';
import { fetchHandler } from './fetch.ts';
import { FetchSessionCache } from './fetch-sessions.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { initProducerIdHandler } from './init-producer-id.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { alterConfigsHandler, incrementalAlterConfigsHandler } from './alter-configs.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { describeLogDirsHandler } from './describe-log-dirs.ts';
import { describeAclsHandler } from './describe-acls.ts';
// Transaction coordinator APIs.
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.ts';
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.ts';
import { endTxnHandler } from './end-txn.ts';
import { txnOffsetCommitHandler } from './txn-offset-commit.ts';
import { describeTransactionsHandler } from './describe-transactions.ts';
import { listTransactionsHandler } from './list-transactions.ts';
import { describeProducersHandler } from './describe-producers.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
// Group coordinator APIs.
import { findCoordinatorHandler } from './find-coordinator.ts';
import { joinGroupHandler } from './join-group.ts';
import { syncGroupHandler } from './sync-group.ts';
import { heartbeatHandler } from './heartbeat.ts';
import { leaveGroupHandler } from './leave-group.ts';
import { offsetCommitHandler } from './offset-commit.ts';
import { offsetFetchHandler } from './offset-fetch.ts';
import { offsetDeleteHandler } from './offset-delete.ts';
import { describeGroupsHandler } from './describe-groups.ts';
import { listGroupsHandler } from './list-groups.ts';
import { deleteGroupsHandler } from './delete-groups.ts';
import { consumerGroupHeartbeatHandler } from './consumer-group-heartbeat.ts';
import { consumerGroupDescribeHandler } from './consumer-group-describe.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';

export { ApiRouter, encodeResponseFrame } from './router.ts';
export type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

/** Handlers with no state of their own. */
export const HANDLERS = [
  apiVersionsHandler,
  describeProducersHandler,
  listOffsetsHandler,
  offsetForLeaderEpochHandler,
  createPartitionsHandler,
  alterConfigsHandler,
  incrementalAlterConfigsHandler,
  deleteRecordsHandler,
  describeLogDirsHandler,
  metadataHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  describeConfigsHandler,
  describeClusterHandler,
  describeTopicPartitionsHandler,
  findCoordinatorHandler,
  describeAclsHandler,
];

export interface RouterOptions {
  fetchSessionSlots: number;
  transactions: TransactionCoordinator;
  groups: GroupCoordinator;
}

/** Kafka drops incremental fetch sessions idle longer than this. */
const FETCH_SESSION_IDLE_MS_MAX = 120_000;

export function createRouter(opts: RouterOptions): ApiRouter {
  const router = new ApiRouter();
  for (const h of HANDLERS) router.register(h);
  for (const make of [
    produceHandler,
    initProducerIdHandler,
    addPartitionsToTxnHandler,
    addOffsetsToTxnHandler,
    endTxnHandler,
    txnOffsetCommitHandler,
    describeTransactionsHandler,
    listTransactionsHandler,
  ]) {
    router.register(make(opts.transactions));
  }
  router.register(fetchHandler(new FetchSessionCache(opts.fetchSessionSlots, FETCH_SESSION_IDLE_MS_MAX)));
  for (const make of [
    joinGroupHandler,
    syncGroupHandler,
    heartbeatHandler,
    leaveGroupHandler,
    offsetCommitHandler,
    offsetFetchHandler,
    offsetDeleteHandler,
    describeGroupsHandler,
    listGroupsHandler,
    deleteGroupsHandler,
    consumerGroupHeartbeatHandler,
    consumerGroupDescribeHandler,
  ]) {
    router.register(make(opts.groups));
  }
  return router;
}
