// DescribeConfigs for topics (Kafka's names, defaults and sources), brokers and broker loggers.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { Input } from '../protocol/primitives.ts';
import type { DescribeConfigsRequest, DescribeConfigsResource } from '../protocol/generated/describe-configs-request.ts';
import type { DescribeConfigsResponse, DescribeConfigsResult, DescribeConfigsResourceResult } from '../protocol/generated/describe-configs-response.ts';
import { TOPIC_CONFIG_DEFS, effectiveTopicConfigs } from '../config/topic-configs.ts';
import type { TopicConfigType } from '../config/topic-configs.ts';
import { BROKER_CONFIG_DEFS } from '../config/broker-config.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;
const ConfigType: Record<TopicConfigType | string, number> = { boolean: 1, bool: 1, string: 2, enum: 2, int: 3, long: 5, double: 6, list: 7, password: 9 };

type Entry = Input<DescribeConfigsResourceResult>;

export const describeConfigsHandler: ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> = {
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    const results: Input<DescribeConfigsResult>[] = [];
    for (const res of req.resources) results.push(await describe(res, req, ctx));
    return { throttleTimeMs: 0, results };
  },
};

async function describe(res: DescribeConfigsResource, req: DescribeConfigsRequest, ctx: RequestContext): Promise<Input<DescribeConfigsResult>> {
  const head = { resourceType: res.resourceType, resourceName: res.resourceName };
  const wanted = res.configurationKeys === null ? null : new Set(res.configurationKeys);
  const keep = (e: Entry) => wanted === null || wanted.has(e.name!);
  const v0 = ctx.apiVersion === 0;
  const entry = (name: string, value: string | null, source: number, type: string, sensitive = false): Entry => ({
    name,
    value: sensitive ? null : value,
    readOnly: res.resourceType !== ResourceType.TOPIC,
    isDefault: v0 ? source === ConfigSource.DEFAULT_CONFIG : false,
    configSource: v0 ? -1 : source,
    isSensitive: sensitive,
    synonyms: req.includeSynonyms ? [{ name, value: sensitive ? null : value, source }] : [],
    configType: ConfigType[type] ?? 0,
    documentation: null,
  });
  switch (res.resourceType) {
    case ResourceType.TOPIC: {
      const topic = ctx.broker.catalog.byName(res.resourceName);
      if (!topic) return { ...head, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${res.resourceName} does not exist.`, configs: [] };
      const configs = effectiveTopicConfigs(topic.configs).map((c) =>
        entry(c.name, c.value, c.isDefault ? ConfigSource.DEFAULT_CONFIG : ConfigSource.DYNAMIC_TOPIC_CONFIG, TOPIC_CONFIG_DEFS[c.name]!.type, c.sensitive),
      );
      return { ...head, errorCode: ErrorCode.NONE, errorMessage: null, configs: configs.filter(keep) };
    }
    case ResourceType.BROKER: {
      if (res.resourceName !== '' && res.resourceName !== String(ctx.broker.nodeId)) {
        return { ...head, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${ctx.broker.nodeId} but received ${res.resourceName}`, configs: [] };
      }
      const cfg = ctx.broker.config;
      const configs = Object.entries(BROKER_CONFIG_DEFS).map(([name, def]) =>
        entry(name, cfg.values[name] ?? null, cfg.origins[name] === 'default' ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG, def.kind, def.sensitive === true),
      );
      return { ...head, errorCode: ErrorCode.NONE, errorMessage: null, configs: configs.filter(keep) };
    }
    case ResourceType.BROKER_LOGGER:
      return { ...head, errorCode: ErrorCode.NONE, errorMessage: null, configs: [entry('root', ctx.broker.config.logLevel.toUpperCase(), ConfigSource.STATIC_BROKER_CONFIG, 'string')].filter(keep) };
    default:
      return { ...head, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${res.resourceType}`, configs: [] };
  }
}
