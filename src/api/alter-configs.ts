// AlterConfigs (replace every override of a resource) and IncrementalAlterConfigs (set, delete,
// append, subtract single entries). Topic configs are dynamic; broker configs are static in Strait
// (they come from the config file, environment and flags) and are refused with a clear message.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { AlterConfigsRequest } from '../protocol/generated/alter-configs-request.ts';
import type { AlterConfigsResponse } from '../protocol/generated/alter-configs-response.ts';
import type { IncrementalAlterConfigsRequest } from '../protocol/generated/incremental-alter-configs-request.ts';
import type { IncrementalAlterConfigsResponse } from '../protocol/generated/incremental-alter-configs-response.ts';
import { TOPIC_CONFIG_DEFS } from '../config/topic-configs.ts';
import { internalTopicRefusal, isInternalTopic } from '../cluster/topics.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { ResourceType } from './describe-configs.ts';

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

type Outcome = { errorCode: number; errorMessage: string | null };
const ok: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };

/** Resolves a resource to a topic, or explains why it cannot be altered. */
function target(resourceType: number, resourceName: string, ctx: RequestContext) {
  if (resourceType === ResourceType.BROKER || resourceType === ResourceType.BROKER_LOGGER) {
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker configs are static in Strait: set them in the config file, environment or flags and restart.' };
  }
  if (resourceType !== ResourceType.TOPIC) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resourceType}` };
  const topic = ctx.broker.catalog.byName(resourceName);
  if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${resourceName} does not exist.` };
  if (isInternalTopic(topic.name)) {
    const refused = internalTopicRefusal(topic.name, 'change the configs of');
    return { errorCode: refused.errorCode, errorMessage: refused.message };
  }
  // A mirror's configs are the source's (synced by its link) until it is promoted.
  const mirror = ctx.broker.logs.mirrorReason(topic.topicId);
  if (mirror) return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: mirror };
  return topic;
}

/** Both APIs: resolve each resource, compute its new overrides, validate and store them. */
async function alterEach<R extends { resourceType: number; resourceName: string }>(
  resources: R[],
  validateOnly: boolean,
  ctx: RequestContext,
  overrides: (r: R, current: Record<string, string>) => { configs: Record<string, string> } | { problem: Outcome },
) {
  const responses = [];
  for (const r of resources) {
    const head = { resourceType: r.resourceType, resourceName: r.resourceName };
    const t = target(r.resourceType, r.resourceName, ctx);
    if ('errorCode' in t) {
      responses.push({ ...head, ...t });
      continue;
    }
    const next = overrides(r, t.configs);
    const problem = 'problem' in next ? next.problem : await asOutcome(ctx.broker.topics.setConfigs(t, next.configs, validateOnly));
    responses.push({ ...head, ...(problem ?? ok) });
  }
  return { throttleTimeMs: 0, responses };
}

export const alterConfigsHandler: ApiHandler<AlterConfigsRequest, AlterConfigsResponse> = {
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  handle: (req, ctx) =>
    alterEach(req.resources, req.validateOnly, ctx, (r) => {
      // Legacy AlterConfigs replaces every override of the resource.
      const configs: Record<string, string> = {};
      for (const c of r.configs) {
        if (c.value === null) return { problem: { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Null value not supported for topic config ${c.name}` } };
        configs[c.name] = c.value;
      }
      return { configs };
    }),
};

export const incrementalAlterConfigsHandler: ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> = {
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  handle: (req, ctx) =>
    alterEach(req.resources, req.validateOnly, ctx, (r, current) => {
      const configs = { ...current };
      const seen = new Set<string>();
      for (const c of r.configs) {
        if (seen.has(c.name)) return { problem: { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Config ${c.name} appears more than once.` } };
        seen.add(c.name);
        const problem = apply(configs, c.name, c.configOperation, c.value);
        if (problem) return { problem };
      }
      return { configs };
    }),
};

function apply(configs: Record<string, string>, name: string, op: number, value: string | null): Outcome | null {
  const def = TOPIC_CONFIG_DEFS[name];
  if (!def) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Unknown topic config name: ${name}` };
  switch (op) {
    case OP_SET:
      if (value === null) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Null value not supported for topic config ${name}` };
      configs[name] = value;
      return null;
    case OP_DELETE:
      delete configs[name];
      return null;
    case OP_APPEND:
    case OP_SUBTRACT: {
      if (def.type !== 'list') return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Config ${name} is not a list; APPEND and SUBTRACT apply only to lists.` };
      const current = (configs[name] ?? def.default).split(',').map((s) => s.trim()).filter((s) => s !== '');
      const items = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
      const next = op === OP_APPEND ? [...current, ...items.filter((i) => !current.includes(i))] : current.filter((i) => !items.includes(i));
      configs[name] = next.join(',');
      return null;
    }
    default:
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown config operation ${op}` };
  }
}

async function asOutcome(p: Promise<{ errorCode: number; message: string } | null>): Promise<Outcome | null> {
  const r = await p;
  return r ? { errorCode: r.errorCode, errorMessage: r.message } : null;
}
