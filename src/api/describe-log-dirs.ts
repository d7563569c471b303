// DescribeLogDirs: one "log dir" (the data directory) with each partition's real size: bytes in
// committed objects plus durable bytes still waiting for upload.
import { statfs } from 'node:fs/promises';
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { DescribeLogDirsRequest } from '../protocol/generated/describe-log-dirs-request.ts';
import type { DescribeLogDirsResponse } from '../protocol/generated/describe-log-dirs-response.ts';
import type { ApiHandler } from './context.ts';

export const describeLogDirsHandler: ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse> = {
  apiKey: ApiKey.DescribeLogDirs,
  minVersion: 1,
  maxVersion: 4,
  async handle(req, ctx) {
    const b = ctx.broker;
    const wanted = req.topics === null ? b.catalog.all().map((t) => ({ topic: t.name, partitions: null as number[] | null })) : req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions }));
    const topics = [];
    for (const w of wanted) {
      const topic = b.catalog.byName(w.topic);
      if (!topic) continue;
      const partitions = [];
      for (const log of b.logs.partitionsOf(topic.topicId)) {
        if (!log || (w.partitions && !w.partitions.includes(log.partition))) continue;
        partitions.push({ partitionIndex: log.partition, partitionSize: BigInt(await b.logs.sizeBytes(log)), offsetLag: 0n, isFutureKey: false });
      }
      topics.push({ name: topic.name, partitions });
    }
    let totalBytes = -1n;
    let usableBytes = -1n;
    try {
      const fs = await statfs(b.config.dataDir);
      totalBytes = BigInt(fs.blocks) * BigInt(fs.bsize);
      usableBytes = BigInt(fs.bavail) * BigInt(fs.bsize);
    } catch {
      // Sizes stay unknown (-1), as Kafka reports for a directory it cannot stat.
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir: b.config.dataDir, topics, totalBytes, usableBytes }] };
  },
};
