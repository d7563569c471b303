// FindCoordinator: a single broker coordinates every group and every transactional id, so the
// answer is this node (as advertised on the listener the request came in on), or the broker that
// took its partitions over once this one stood down. v4+ asks for
// several keys at once (KIP-699). As Kafka does, the first request of its kind creates the internal
// topic __consumer_offsets (groups) or __transaction_state (transactional ids), so that Metadata
// lists it; until that succeeds the answer is the retriable COORDINATOR_NOT_AVAILABLE.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { FindCoordinatorRequest } from '../protocol/generated/find-coordinator-request.ts';
import type { FindCoordinatorResponse } from '../protocol/generated/find-coordinator-response.ts';
import { OFFSETS_TOPIC_NAME, TRANSACTION_STATE_TOPIC_NAME } from '../cluster/topics.ts';
import type { ApiHandler, RequestContext } from './context.ts';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
/** v4+: several keys per request. */
const BATCHED_VERSION = 4;

interface Answer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

function coordinatorFor(keyType: number, ctx: RequestContext, internalTopicReady: boolean): Answer {
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) {
    // Share groups (key type 2, KIP-932) have no coordinator here.
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported key type ${keyType}`, nodeId: -1, host: '', port: -1 };
  }
  if (!internalTopicReady) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The internal topic of the coordinator could not be created yet.', nodeId: -1, host: '', port: -1 };
  const b = ctx.broker;
  // A broker that stood down (another one took over its partitions) sends clients to that one.
  if (b.successor) return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: b.successor.nodeId, host: b.successor.host, port: b.successor.port };
  const listener = b.config.advertisedListeners.find((l) => l.name === ctx.conn.listenerName) ?? b.config.advertisedListeners[0]!;
  return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: b.nodeId, host: listener.host, port: listener.port };
}

export const findCoordinatorHandler: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  async handle(req, ctx) {
    const ready = await ensureInternalTopic(req.keyType, ctx);
    if (ctx.apiVersion < BATCHED_VERSION) {
      const a = coordinatorFor(req.keyType, ctx, ready);
      return { throttleTimeMs: 0, ...a };
    }
    return {
      throttleTimeMs: 0,
      coordinators: req.coordinatorKeys.map((key) => ({ key, ...coordinatorFor(req.keyType, ctx, ready) })),
    };
  },
};

/** The internal topic of the key type's coordinator exists (created now if need be). */
async function ensureInternalTopic(keyType: number, ctx: RequestContext): Promise<boolean> {
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) return true;
  const name = keyType === KEY_TYPE_GROUP ? OFFSETS_TOPIC_NAME : TRANSACTION_STATE_TOPIC_NAME;
  if (ctx.broker.catalog.byName(name)) return true;
  const setting = keyType === KEY_TYPE_GROUP ? 'offsets.topic.num.partitions' : 'transaction.state.log.num.partitions';
  return (await ctx.broker.topics.ensureInternal(name, Number(ctx.broker.config.values[setting]))) !== null;
}
