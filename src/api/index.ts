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
import type { ProducerIdManager } from '../coordinator/producer-ids.ts';

export { ApiRouter, encodeResponseFrame } from './router.ts';
export type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

/** Handlers with no state of their own. */
export const HANDLERS = [
  apiVersionsHandler,
  produceHandler,
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
];

export interface RouterOptions {
  fetchSessionSlots: number;
  producerIds: ProducerIdManager;
}

/** Kafka drops incremental fetch sessions idle longer than this. */
const FETCH_SESSION_IDLE_MS_MAX = 120_000;

export function createRouter(opts: RouterOptions): ApiRouter {
  const router = new ApiRouter();
  for (const h of HANDLERS) router.register(h);
  router.register(initProducerIdHandler(opts.producerIds));
  router.register(fetchHandler(new FetchSessionCache(opts.fetchSessionSlots, FETCH_SESSION_IDLE_MS_MAX)));
  return router;
}
