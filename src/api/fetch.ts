// Fetch: whole record batches as stored bytes, with long polling (max wait / min bytes), response
// and partition byte limits (KIP-74), topic ids (v13+) and incremental fetch sessions (KIP-227).
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import { ZERO_UUID } from '../protocol/primitives.ts';
import type { Input } from '../protocol/primitives.ts';
import type { FetchRequest } from '../protocol/generated/fetch-request.ts';
import type { FetchResponse, FetchableTopicResponse, PartitionData } from '../protocol/generated/fetch-response.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { FINAL_EPOCH, INITIAL_EPOCH, sessionKey } from './fetch-sessions.ts';
import type { FetchSession, FetchSessionCache, SessionPartition } from './fetch-sessions.ts';

const READ_COMMITTED = 1;

interface Served {
  p: SessionPartition;
  errorCode: number;
  log: PartitionLog | null;
  batches: Buffer[];
  bytes: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: { producerId: number; firstOffset: number }[] | null;
}

export function fetchHandler(sessions: FetchSessionCache): ApiHandler<FetchRequest, FetchResponse> {
  return {
    apiKey: ApiKey.Fetch,
    minVersion: 4,
    maxVersion: 17,
    async handle(req, ctx) {
      const now = Date.now();
      const byId = ctx.apiVersion >= 13;
      // Resolve the session (v7+); sessionless fetches name every partition every time.
      let session: FetchSession | null = null;
      let incremental = false;
      if (ctx.apiVersion >= 7) {
        if (req.sessionId !== 0 && req.sessionEpoch !== INITIAL_EPOCH && req.sessionEpoch !== FINAL_EPOCH) {
          const found = sessions.lookup(req.sessionId, req.sessionEpoch, now);
          if (typeof found === 'number') return { errorCode: found, sessionId: 0, responses: [] };
          session = found;
          incremental = true;
        } else {
          if (req.sessionId !== 0) sessions.remove(req.sessionId);
          if (req.sessionId === 0 && req.sessionEpoch !== INITIAL_EPOCH && req.sessionEpoch !== FINAL_EPOCH) {
            return { errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, sessionId: 0, responses: [] };
          }
          if (req.sessionEpoch === INITIAL_EPOCH) session = sessions.create(now);
        }
      }

      const wanted = incremental ? session!.partitions : new Map<string, SessionPartition>();
      const unresolved: Served[] = [];
      for (const t of req.topics) {
        const topic = byId ? ctx.broker.catalog.byId(t.topicId) : ctx.broker.catalog.byName(t.topic);
        for (const fp of t.partitions) {
          const sp: SessionPartition = {
            topicId: topic?.topicId ?? t.topicId,
            topicName: topic?.name ?? t.topic,
            partition: fp.partition,
            fetchOffset: Number(fp.fetchOffset),
            partitionMaxBytes: fp.partitionMaxBytes,
            currentLeaderEpoch: fp.currentLeaderEpoch,
            lastHighWatermark: -1,
            lastLogStartOffset: -1,
            lastLastStableOffset: -1,
          };
          if (!topic) {
            unresolved.push({ ...unservedPartition(sp), errorCode: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
            continue;
          }
          const k = sessionKey(topic.topicId, fp.partition);
          const prev = wanted.get(k);
          if (prev) {
            prev.fetchOffset = sp.fetchOffset;
            prev.partitionMaxBytes = sp.partitionMaxBytes;
            prev.currentLeaderEpoch = sp.currentLeaderEpoch;
          } else wanted.set(k, sp);
        }
      }
      if (incremental) {
        for (const ft of req.forgottenTopicsData) {
          const topicId = byId ? ft.topicId : ctx.broker.catalog.byName(ft.topic)?.topicId;
          if (!topicId) continue;
          for (const p of ft.partitions) wanted.delete(sessionKey(topicId, p));
        }
      } else if (session) {
        for (const [k, v] of wanted) session.partitions.set(k, v);
      }

      const deadline = now + Math.max(0, req.maxWaitMs);
      let served = await readAll([...wanted.values()], req, ctx);
      while (served.total < Math.max(1, req.minBytes) && !served.anyError && Date.now() < deadline) {
        if (!(await waitForData(served.list, deadline - Date.now()))) break;
        served = await readAll([...wanted.values()], req, ctx);
      }

      const readCommitted = req.isolationLevel === READ_COMMITTED;
      const groups = new Map<string, Input<FetchableTopicResponse>>();
      const add = (s: Served) => {
        const k = s.p.topicId + '/' + s.p.topicName;
        let g = groups.get(k);
        if (!g) {
          g = { topic: s.p.topicName, topicId: byId ? s.p.topicId : ZERO_UUID, partitions: [] };
          groups.set(k, g);
        }
        // Kafka reports no offsets with a partition error.
        const failed = s.errorCode !== ErrorCode.NONE;
        const data: Input<PartitionData> = {
          partitionIndex: s.p.partition,
          errorCode: s.errorCode,
          highWatermark: failed ? -1n : BigInt(s.highWatermark),
          lastStableOffset: failed ? -1n : BigInt(s.lastStableOffset),
          logStartOffset: failed ? -1n : BigInt(s.logStartOffset),
          abortedTransactions: readCommitted ? (s.abortedTransactions ?? []).map((a) => ({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset) })) : null,
          preferredReadReplica: -1,
          records: s.batches.length === 1 ? s.batches[0]! : s.batches.length === 0 ? Buffer.alloc(0) : Buffer.concat(s.batches, s.bytes),
        };
        (g.partitions as Input<PartitionData>[]).push(data);
      };
      for (const s of served.list) {
        const changed =
          !incremental ||
          s.bytes > 0 ||
          s.errorCode !== ErrorCode.NONE ||
          s.highWatermark !== s.p.lastHighWatermark ||
          s.lastStableOffset !== s.p.lastLastStableOffset ||
          s.logStartOffset !== s.p.lastLogStartOffset;
        s.p.lastHighWatermark = s.highWatermark;
        s.p.lastLogStartOffset = s.logStartOffset;
        s.p.lastLastStableOffset = s.lastStableOffset;
        if (changed) add(s);
      }
      for (const s of unresolved) add(s);
      if (session) session.epoch = incremental ? session.epoch + 1 : 1;
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: session?.id ?? 0, responses: [...groups.values()] };
    },
  };
}

async function readAll(partitions: SessionPartition[], req: FetchRequest, ctx: RequestContext): Promise<{ list: Served[]; total: number; anyError: boolean }> {
  const list: Served[] = [];
  let budget = req.maxBytes;
  let total = 0;
  let anyError = false;
  for (const p of partitions) {
    const log = ctx.broker.logs.get(p.topicId, p.partition) ?? null;
    const s: Served = { ...unservedPartition(p), log };
    list.push(s);
    if (!log) {
      s.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      anyError = true;
      continue;
    }
    if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch) {
      s.errorCode = p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
      anyError = true;
      continue;
    }
    const limit = Math.min(p.partitionMaxBytes, budget);
    // KIP-74: the first batch of the first partition with data goes out even if it is over the limits.
    let r;
    try {
      r = await log.read(p.fetchOffset, limit, total === 0, req.isolationLevel === READ_COMMITTED);
    } catch (err) {
      // Object storage could not be read: this partition fails retriably; the others are served.
      s.errorCode = (err as { kafkaError?: number }).kafkaError ?? ErrorCode.KAFKA_STORAGE_ERROR;
      ctx.broker.log.warn('fetch could not read partition data', { topicId: p.topicId, partition: p.partition, offset: p.fetchOffset, err: err as Error });
      anyError = true;
      continue;
    }
    s.errorCode = r.errorCode;
    s.highWatermark = r.highWatermark;
    s.lastStableOffset = r.lastStableOffset;
    s.logStartOffset = r.logStartOffset;
    s.abortedTransactions = r.abortedTransactions;
    s.batches = r.batches;
    s.bytes = r.bytes;
    if (r.errorCode !== ErrorCode.NONE) anyError = true;
    total += r.bytes;
    budget = Math.max(0, budget - r.bytes);
  }
  return { list, total, anyError };
}

function unservedPartition(p: SessionPartition): Served {
  return { p, errorCode: ErrorCode.NONE, log: null, batches: [], bytes: 0, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null };
}

/** Waits until one of the logs gets data or the time is up; false when it timed out. */
function waitForData(list: Served[], ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = [];
    let done = false;
    const finish = (woke: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const c of cancels) c();
      resolve(woke);
    };
    const timer = setTimeout(() => finish(false), ms);
    for (const s of list) if (s.log) cancels.push(s.log.onData(() => finish(true)));
  });
}
