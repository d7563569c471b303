// The API layer's surface: the router and every handler this broker serves.
import { ApiRouter } from './router.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { metadataHandler } from './metadata.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeTopicPartitionsHandler } from './describe-topic-partitions.ts';

export { ApiRouter, encodeResponseFrame } from './router.ts';
export type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

export const HANDLERS = [
  apiVersionsHandler,
  metadataHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  describeConfigsHandler,
  describeClusterHandler,
  describeTopicPartitionsHandler,
];

export function createRouter(): ApiRouter {
  const router = new ApiRouter();
  for (const h of HANDLERS) router.register(h);
  return router;
}
