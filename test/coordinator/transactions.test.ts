// The transaction coordinator over the raw protocol, in-process: the state machine (InitProducerId,
// AddPartitionsToTxn, Produce, EndTxn), what read_committed consumers then see, fencing of older
// producers (KIP-98) and resuming ones (KIP-360), epoch exhaustion, the KIP-890 produce check and
// verifyOnly, timeouts, transactional offsets, Describe/ListTransactions, DescribeProducers, and
// recovery of decided transactions after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import { join } from 'node:path';

const E = ErrorCode;

/** A transactional producer speaking the raw protocol, with its own sequence numbers per partition. */
class Txn {
  readonly c: RawClient;
  readonly id: string;
  producerId = -1;
  epoch = -1;
  private seqs = new Map<string, number>();

  constructor(c: RawClient, id: string) {
    this.c = c;
    this.id = id;
  }

  async init(opts: { timeoutMs?: number; expected?: [number, number]; version?: number } = {}): Promise<number> {
    const r = await this.c.request(ApiKey.InitProducerId, opts.version ?? 4, {
      transactionalId: this.id,
      transactionTimeoutMs: opts.timeoutMs ?? 60_000,
      producerId: BigInt(opts.expected?.[0] ?? -1),
      producerEpoch: opts.expected?.[1] ?? -1,
    });
    if (r.errorCode === E.NONE) {
      if (Number(r.producerId) !== this.producerId || r.producerEpoch !== this.epoch) this.seqs.clear();
      this.producerId = Number(r.producerId);
      this.epoch = r.producerEpoch;
    }
    return r.errorCode;
  }

  /** AddPartitionsToTxn v3 (what producers send); one code per partition. */
  async add(topic: string, partitions: number[], version = 3): Promise<number[]> {
    const r = await this.c.request(ApiKey.AddPartitionsToTxn, version, {
      v3AndBelowTransactionalId: this.id,
      v3AndBelowProducerId: BigInt(this.producerId),
      v3AndBelowProducerEpoch: this.epoch,
      v3AndBelowTopics: [{ name: topic, partitions }],
    });
    return r.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: any) => p.partitionErrorCode);
  }

  async produce(topic: string, partition: number, values: string[], version = 9): Promise<{ errorCode: number; baseOffset: number }> {
    const key = `${topic}:${partition}`;
    const seq = this.seqs.get(key) ?? 0;
    const records = buildBatch({ producerId: this.producerId, producerEpoch: this.epoch, baseSequence: seq, isTransactional: true, records: values.map((v) => ({ key: v, value: v })) });
    const r = await this.c.request(ApiKey.Produce, version, { acks: -1, timeoutMs: 5000, transactionalId: this.id, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
    const p = r.responses[0].partitionResponses[0];
    if (p.errorCode === E.NONE) this.seqs.set(key, seq + values.length);
    return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
  }

  async end(commit: boolean, version = 3): Promise<number> {
    const r = await this.c.request(ApiKey.EndTxn, version, { transactionalId: this.id, producerId: BigInt(this.producerId), producerEpoch: this.epoch, committed: commit });
    return r.errorCode;
  }

  async addOffsets(groupId: string, version = 3): Promise<number> {
    const r = await this.c.request(ApiKey.AddOffsetsToTxn, version, { transactionalId: this.id, producerId: BigInt(this.producerId), producerEpoch: this.epoch, groupId });
    return r.errorCode;
  }

  async commitOffsets(groupId: string, topic: string, offsets: [number, number][], version = 3): Promise<number[]> {
    const r = await this.c.request(ApiKey.TxnOffsetCommit, version, {
      transactionalId: this.id,
      groupId,
      producerId: BigInt(this.producerId),
      producerEpoch: this.epoch,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: topic, partitions: offsets.map(([partitionIndex, offset]) => ({ partitionIndex, committedOffset: BigInt(offset), committedLeaderEpoch: -1, committedMetadata: 'm' })) }],
    });
    return r.topics[0].partitions.map((p: any) => p.errorCode);
  }
}

async function setup(settings: Record<string, string> = {}, partitions = 3) {
  const b = await startTestBroker({ 'upload.interval.ms': '100000', ...settings });
  const c = await RawClient.connect(b.port);
  const r = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: partitions, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(r.topics[0].errorCode, E.NONE);
  return { b, c };
}

/** read_committed (or read_uncommitted) values of a partition from offset 0, with LSO and HW. */
async function read(c: RawClient, partition: number, isolationLevel = 1) {
  const r = await c.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    isolationLevel,
    sessionEpoch: -1,
    topics: [{ topic: 't', partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  });
  const p = r.responses[0].partitions[0];
  const aborted = (p.abortedTransactions ?? []).map((a: any) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }));
  // What a read_committed consumer delivers: data batches, minus those of aborted transactions.
  const values: string[] = [];
  const open = new Set<number>();
  let markers = 0;
  const pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  for (const d of readBatches(Buffer.from(p.records ?? Buffer.alloc(0)))) {
    while (pending.length && pending[0]!.firstOffset <= d.header.baseOffset) open.add(pending.shift()!.producerId);
    if (d.isControl) {
      markers++;
      open.delete(d.header.producerId);
      continue;
    }
    if (isolationLevel === 1 && d.isTransactional && open.has(d.header.producerId)) continue;
    values.push(...d.records.map((x) => x.value!.toString()));
  }
  return { values, lso: Number(p.lastStableOffset), hw: Number(p.highWatermark), aborted, markers };
}

async function describe(c: RawClient, ids: string[]) {
  const r = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ids });
  return r.transactionStates.map((s: any) => ({
    errorCode: s.errorCode,
    state: s.transactionState,
    producerId: Number(s.producerId),
    epoch: s.producerEpoch,
    timeoutMs: s.transactionTimeoutMs,
    start: Number(s.transactionStartTimeMs),
    topics: s.topics.map((t: any) => `${t.topic}:${[...t.partitions].sort().join(',')}`).sort(),
  }));
}

async function list(c: RawClient, states: string[] = [], producerIds: number[] = [], durationFilter = -1) {
  const r = await c.request(ApiKey.ListTransactions, 1, { stateFilters: states, producerIdFilters: producerIds.map(BigInt), durationFilter: BigInt(durationFilter) });
  return { errorCode: r.errorCode, unknown: r.unknownStateFilters, txns: r.transactionStates.map((s: any) => `${s.transactionalId}:${s.transactionState}`) };
}

test('commit and abort: read_committed sees committed records only, LSO held by open transactions, Describe/ListTransactions and DescribeProducers follow', async () => {
  const { b, c } = await setup();
  try {
    const p = new Txn(c, 'tx-1');
    assert.equal(await p.init(), E.NONE);
    assert.equal(p.epoch, 0);
    assert.deepEqual(await describe(c, ['tx-1', 'nope', '']), [
      { errorCode: E.NONE, state: 'Empty', producerId: p.producerId, epoch: 0, timeoutMs: 60000, start: -1, topics: [] },
      { errorCode: E.TRANSACTIONAL_ID_NOT_FOUND, state: '', producerId: -1, epoch: -1, timeoutMs: 0, start: -1, topics: [] },
      { errorCode: E.INVALID_REQUEST, state: '', producerId: -1, epoch: -1, timeoutMs: 0, start: -1, topics: [] },
    ]);
    assert.equal(await p.end(true), E.INVALID_TXN_STATE, 'EndTxn without a transaction');

    // Transaction 1: two partitions, committed.
    const before = Date.now();
    assert.deepEqual(await p.add('t', [0, 1]), [E.NONE, E.NONE]);
    assert.deepEqual(await p.add('t', [0]), [E.NONE], 'adding a partition again is fine');
    assert.deepEqual((await p.produce('t', 0, ['a1', 'a2'])).errorCode, E.NONE);
    assert.deepEqual((await p.produce('t', 1, ['b1'])).errorCode, E.NONE);
    const d = (await describe(c, ['tx-1']))[0];
    assert.equal(d.state, 'Ongoing');
    assert.deepEqual(d.topics, ['t:0,1']);
    assert.ok(d.start >= before && d.start <= Date.now());
    let r0 = await read(c, 0);
    assert.deepEqual([r0.values, r0.lso, r0.hw], [[], 0, 2], 'the open transaction holds the LSO');
    assert.deepEqual((await read(c, 0, 0)).values, ['a1', 'a2'], 'read_uncommitted sees it');
    assert.deepEqual(await list(c, ['Ongoing', 'Bogus']), { errorCode: E.NONE, unknown: ['Bogus'], txns: ['tx-1:Ongoing'] });
    const producers = await c.request(ApiKey.DescribeProducers, 0, { topics: [{ name: 't', partitionIndexes: [0, 2] }, { name: 'missing', partitionIndexes: [0] }] });
    const active = producers.topics[0].partitions[0].activeProducers[0];
    assert.deepEqual([Number(active.producerId), active.producerEpoch, active.lastSequence, Number(active.currentTxnStartOffset)], [p.producerId, 0, 1, 0]);
    assert.deepEqual(producers.topics[0].partitions[1].activeProducers, []);
    assert.equal(producers.topics[1].partitions[0].errorCode, E.UNKNOWN_TOPIC_OR_PARTITION);

    assert.equal(await p.end(true), E.NONE);
    assert.equal((await describe(c, ['tx-1']))[0].state, 'CompleteCommit');
    assert.equal(await p.end(true), E.NONE, 'a retried commit gets the same answer');
    assert.equal(await p.end(false), E.INVALID_TXN_STATE, 'aborting a committed transaction');
    r0 = await read(c, 0);
    assert.deepEqual([r0.values, r0.lso, r0.hw, r0.markers], [['a1', 'a2'], 3, 3, 1]);
    assert.deepEqual((await read(c, 1)).values, ['b1']);

    // Transaction 2: aborted; its records never reach read_committed consumers.
    assert.deepEqual(await p.add('t', [0, 2]), [E.NONE, E.NONE]);
    assert.equal((await p.produce('t', 0, ['x1'])).errorCode, E.NONE);
    assert.equal((await p.produce('t', 2, ['x2'])).errorCode, E.NONE);
    assert.equal(await p.end(false), E.NONE);
    r0 = await read(c, 0);
    assert.deepEqual([r0.values, r0.lso, r0.hw], [['a1', 'a2'], 5, 5]);
    assert.deepEqual(r0.aborted, [{ producerId: p.producerId, firstOffset: 3 }]);
    assert.deepEqual((await read(c, 2)).values, []);
    assert.equal((await describe(c, ['tx-1']))[0].state, 'CompleteAbort');

    // Transaction 3 commits after the abort, with the same epoch (transactions V1).
    assert.deepEqual(await p.add('t', [0]), [E.NONE]);
    assert.equal((await p.produce('t', 0, ['c1'])).errorCode, E.NONE);
    assert.equal(await p.end(true), E.NONE);
    assert.deepEqual((await read(c, 0)).values, ['a1', 'a2', 'c1']);
    assert.equal(p.epoch, 0);

    // ListTransactions filters.
    const q = new Txn(c, 'tx-2');
    assert.equal(await q.init(), E.NONE);
    assert.deepEqual((await list(c)).txns, ['tx-1:CompleteCommit', 'tx-2:Empty']);
    assert.deepEqual((await list(c, [], [q.producerId])).txns, ['tx-2:Empty']);
    assert.deepEqual((await list(c, ['CompleteCommit', 'Ongoing'])).txns, ['tx-1:CompleteCommit']);
    // Kafka compares the duration with the start of the last transaction; an id that never started
    // one (start -1) passes every duration filter.
    assert.deepEqual((await list(c, [], [], 3_600_000)).txns, ['tx-2:Empty'], 'tx-1 started less than an hour ago');
    assert.deepEqual((await list(c, [], [], 0)).txns, ['tx-1:CompleteCommit', 'tx-2:Empty']);
  } finally {
    c.close();
    await b.stop();
  }
});

test('KIP-890 produce check: partitions outside the transaction, wrong epochs and unknown producers are refused; verifyOnly', async () => {
  const { b, c } = await setup();
  try {
    const p = new Txn(c, 'tx-v');
    assert.equal(await p.init(), E.NONE);
    assert.equal((await p.produce('t', 0, ['no'])).errorCode, E.INVALID_TXN_STATE, 'no transaction yet (produce v9)');
    assert.deepEqual(await p.add('t', [0]), [E.NONE]);
    assert.equal((await p.produce('t', 1, ['no'], 11)).errorCode, E.TRANSACTION_ABORTABLE, 'partition 1 was not added (produce v11)');
    assert.equal((await p.produce('t', 1, ['no'], 9)).errorCode, E.INVALID_TXN_STATE);
    assert.equal((await p.produce('t', 0, ['ok'])).errorCode, E.NONE);

    const stale = new Txn(c, 'tx-v');
    stale.producerId = p.producerId;
    stale.epoch = p.epoch + 1;
    assert.equal((await stale.produce('t', 0, ['no'])).errorCode, E.INVALID_PRODUCER_EPOCH, 'an epoch the coordinator did not give');
    const stranger = new Txn(c, 'tx-unknown');
    stranger.producerId = 999_999;
    stranger.epoch = 0;
    assert.equal((await stranger.produce('t', 0, ['no'])).errorCode, E.INVALID_PRODUCER_ID_MAPPING);
    assert.deepEqual(await stranger.add('t', [0]), [E.INVALID_PRODUCER_ID_MAPPING]);

    // Unknown partitions fail the whole AddPartitionsToTxn; the others are not attempted.
    assert.deepEqual(await p.add('t', [1, 9]), [E.OPERATION_NOT_ATTEMPTED, E.UNKNOWN_TOPIC_OR_PARTITION]);
    assert.equal((await p.produce('t', 1, ['no'])).errorCode, E.INVALID_TXN_STATE, 'partition 1 was not added by the failed request');

    // Broker-to-broker verification (v4+, several transactional ids at once).
    const q = new Txn(c, 'tx-w');
    assert.equal(await q.init(), E.NONE);
    const v = await c.request(ApiKey.AddPartitionsToTxn, 5, {
      transactions: [
        { transactionalId: 'tx-v', producerId: BigInt(p.producerId), producerEpoch: p.epoch, verifyOnly: true, topics: [{ name: 't', partitions: [0, 2] }] },
        { transactionalId: 'tx-w', producerId: BigInt(q.producerId), producerEpoch: q.epoch + 3, verifyOnly: true, topics: [{ name: 't', partitions: [0] }] },
      ],
    });
    const codes = v.resultsByTransaction.map((t: any) => `${t.transactionalId}:${t.topicResults[0].resultsByPartition.map((x: any) => `${x.partitionIndex}=${x.partitionErrorCode}`).join(',')}`);
    assert.deepEqual(codes, [`tx-v:0=${E.NONE},2=${E.TRANSACTION_ABORTABLE}`, `tx-w:0=${E.PRODUCER_FENCED}`]);
    // v4+ without verifyOnly adds, as a client's request would.
    const add = await c.request(ApiKey.AddPartitionsToTxn, 4, {
      transactions: [{ transactionalId: 'tx-w', producerId: BigInt(q.producerId), producerEpoch: q.epoch, verifyOnly: false, topics: [{ name: 't', partitions: [2] }] }],
    });
    assert.equal(add.resultsByTransaction[0].topicResults[0].resultsByPartition[0].partitionErrorCode, E.NONE);
    assert.equal((await q.produce('t', 2, ['w'])).errorCode, E.NONE);

    // After EndTxn the partition is out of the transaction again.
    assert.equal(await p.end(true), E.NONE);
    assert.equal((await p.produce('t', 0, ['late'])).errorCode, E.INVALID_TXN_STATE);
    assert.deepEqual((await read(c, 0)).values, ['ok']);

    // A transactional batch in a request without a transactional id is refused, as Kafka does
    // (test/api/produce-transactional.test.ts covers the other shapes of it).
    const plain = buildBatch({ producerId: 424242, producerEpoch: 0, baseSequence: 0, isTransactional: true, records: [{ value: 'raw' }] });
    const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 't', partitionData: [{ index: 1, records: plain }] }] });
    assert.equal(r.responses[0].partitionResponses[0].errorCode, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  } finally {
    c.close();
    await b.stop();
  }
});

test('fencing: a new producer aborts the old one\'s transaction and fences it; KIP-360 resumption and its retries', async () => {
  const { b, c } = await setup();
  try {
    const old = new Txn(c, 'tx-f');
    assert.equal(await old.init(), E.NONE);
    assert.deepEqual(await old.add('t', [0, 1]), [E.NONE, E.NONE]);
    assert.equal((await old.produce('t', 0, ['zombie'])).errorCode, E.NONE);

    const fresh = new Txn(c, 'tx-f');
    // The first InitProducerId aborts the open transaction (with a fencing epoch bump) and asks for a retry.
    assert.equal(await fresh.init(), E.CONCURRENT_TRANSACTIONS);
    assert.equal((await describe(c, ['tx-f']))[0].state, 'CompleteAbort');
    assert.equal((await describe(c, ['tx-f']))[0].epoch, 1);
    assert.equal(await fresh.init(), E.NONE);
    assert.deepEqual([fresh.producerId, fresh.epoch], [old.producerId, 2]);

    assert.equal((await old.produce('t', 0, ['zombie2'])).errorCode, E.INVALID_PRODUCER_EPOCH);
    assert.deepEqual(await old.add('t', [0]), [E.PRODUCER_FENCED]);
    assert.deepEqual(await old.add('t', [0], 1), [E.INVALID_PRODUCER_EPOCH], 'v1 clients do not know PRODUCER_FENCED');
    assert.equal(await old.end(true), E.PRODUCER_FENCED);
    assert.equal(await old.end(true, 1), E.INVALID_PRODUCER_EPOCH);
    const r0 = await read(c, 0);
    assert.deepEqual([r0.values, r0.lso, r0.hw], [[], 2, 2], 'the zombie\'s record was aborted; partition 1 got a marker too');
    assert.equal((await read(c, 1)).hw, 1);

    // The new producer works normally.
    assert.deepEqual(await fresh.add('t', [0]), [E.NONE]);
    assert.equal((await fresh.produce('t', 0, ['fresh'])).errorCode, E.NONE);
    assert.equal(await fresh.end(true), E.NONE);
    assert.deepEqual((await read(c, 0)).values, ['fresh']);

    // KIP-360: resuming with the current producer id and epoch bumps and remembers the old epoch.
    const pid = fresh.producerId;
    assert.equal(await fresh.init({ expected: [pid, 2] }), E.NONE);
    assert.equal(fresh.epoch, 3);
    const retry = new Txn(c, 'tx-f');
    assert.equal(await retry.init({ expected: [pid, 2] }), E.NONE, 'a retry of that call');
    assert.deepEqual([retry.producerId, retry.epoch], [pid, 3], 'gets the same epoch again');
    assert.equal(await retry.init({ expected: [pid, 1] }), E.PRODUCER_FENCED, 'an older epoch is fenced');
    assert.equal(await retry.init({ expected: [pid, 1], version: 3 }), E.INVALID_PRODUCER_EPOCH, 'as INVALID_PRODUCER_EPOCH before v4');
    assert.equal(await retry.init({ expected: [pid + 1000, 3] }), E.PRODUCER_FENCED, 'another producer id is fenced');
    assert.equal(await retry.init({ expected: [pid, -1] }), E.INVALID_REQUEST);
    // Without expectations a new instance always takes over.
    assert.equal(await retry.init(), E.NONE);
    assert.equal(retry.epoch, 4);
    assert.equal(await fresh.init({ expected: [pid, 3] }), E.PRODUCER_FENCED, 'the fenced instance cannot resume');

    // Idempotent producers still get fresh ids.
    const idem = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 0, producerId: -1n, producerEpoch: -1 });
    assert.deepEqual([idem.errorCode, idem.producerEpoch], [E.NONE, 0]);
    assert.notEqual(Number(idem.producerId), pid);
  } finally {
    c.close();
    await b.stop();
  }
});

test('epoch exhaustion rotates to a new producer id; a retry with the exhausted epoch gets the new id', async () => {
  const { b, c } = await setup();
  const dataDir = b.dataDir;
  try {
    const p = new Txn(c, 'tx-x');
    assert.equal(await p.init(), E.NONE);
    const oldPid = p.producerId;
    c.close();
    await b.broker.stop();
    // Move the epoch to the edge (Kafka stops at Short.MAX_VALUE - 1).
    const store = new SqliteMetadataStore(join(dataDir, 'metadata.sqlite'));
    await store.open();
    const rec = (await store.transactions()).find((t) => t.transactionalId === 'tx-x')!;
    await store.saveTransaction({ ...rec, producerEpoch: 32765 });
    await store.close();
    await b.broker.start();
    const c2 = await RawClient.connect(b.broker.bound[0]!.port);
    const q = new Txn(c2, 'tx-x');
    assert.equal(await q.init(), E.NONE);
    assert.deepEqual([q.producerId, q.epoch], [oldPid, 32766]);
    // A transaction at the last epoch still works.
    assert.deepEqual(await q.add('t', [0]), [E.NONE]);
    assert.equal((await q.produce('t', 0, ['edge'])).errorCode, E.NONE);
    assert.equal(await q.end(true), E.NONE);
    // The next InitProducerId (KIP-360 style, naming the exhausted epoch) rotates the producer id.
    assert.equal(await q.init({ expected: [oldPid, 32766] }), E.NONE);
    assert.notEqual(q.producerId, oldPid);
    assert.equal(q.epoch, 0);
    const retry = new Txn(c2, 'tx-x');
    assert.equal(await retry.init({ expected: [oldPid, 32766] }), E.NONE, 'a retry naming the previous producer id');
    assert.deepEqual([retry.producerId, retry.epoch], [q.producerId, 0]);
    assert.deepEqual(await q.add('t', [0]), [E.NONE]);
    assert.equal((await q.produce('t', 0, ['new-id'])).errorCode, E.NONE);
    assert.equal(await q.end(true), E.NONE);
    assert.deepEqual((await read(c2, 0)).values, ['edge', 'new-id']);
    c2.close();
  } finally {
    await b.stop();
  }
});

test('timeouts: transactions open past their timeout are aborted with an epoch bump; too long a timeout is refused', async () => {
  const { b, c } = await setup({ 'transaction.max.timeout.ms': '60000', 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '100000' });
  try {
    const p = new Txn(c, 'tx-t');
    assert.equal(await p.init({ timeoutMs: 60_001 }), E.INVALID_TRANSACTION_TIMEOUT);
    assert.equal(await p.init({ timeoutMs: 0 }), E.INVALID_TRANSACTION_TIMEOUT);
    assert.equal(await p.init({ timeoutMs: 300 }), E.NONE);
    const slow = new Txn(c, 'tx-slow');
    assert.equal(await slow.init({ timeoutMs: 60_000 }), E.NONE);
    assert.deepEqual(await slow.add('t', [1]), [E.NONE]);
    assert.deepEqual(await p.add('t', [0]), [E.NONE]);
    assert.equal((await p.produce('t', 0, ['late'])).errorCode, E.NONE);
    await b.broker.jobs!.runNow('transaction-abort');
    assert.equal((await describe(c, ['tx-t']))[0].state, 'Ongoing', 'not yet timed out');
    await new Promise((r) => setTimeout(r, 400));
    await b.broker.jobs!.runNow('transaction-abort');
    const d = await describe(c, ['tx-t', 'tx-slow']);
    assert.deepEqual([d[0].state, d[0].epoch], ['CompleteAbort', 1]);
    assert.equal(d[1].state, 'Ongoing', 'the other transaction has time left');
    assert.equal(await p.end(true), E.PRODUCER_FENCED, 'the producer learns it was fenced');
    assert.equal((await p.produce('t', 0, ['later'])).errorCode, E.INVALID_PRODUCER_EPOCH);
    const r0 = await read(c, 0);
    assert.deepEqual([r0.values, r0.lso, r0.hw], [[], 2, 2]);
    // The producer re-initialises and goes on.
    assert.equal(await p.init({ timeoutMs: 300 }), E.NONE);
    assert.equal(p.epoch, 2);
  } finally {
    c.close();
    await b.stop();
  }
});

test('transactional ids idle past transactional.id.expiration.ms are forgotten unless a transaction is open', async () => {
  const { b, c } = await setup({ 'transactional.id.expiration.ms': '300', 'transaction.remove.expired.transaction.cleanup.interval.ms': '100000' });
  try {
    const idle = new Txn(c, 'tx-idle');
    const open = new Txn(c, 'tx-open');
    assert.equal(await idle.init(), E.NONE);
    assert.equal(await open.init(), E.NONE);
    assert.deepEqual(await open.add('t', [0]), [E.NONE]);
    await new Promise((r) => setTimeout(r, 400));
    await b.broker.jobs!.runNow('transactional-id-expiration');
    const d = await describe(c, ['tx-idle', 'tx-open']);
    assert.deepEqual([d[0].errorCode, d[1].state], [E.TRANSACTIONAL_ID_NOT_FOUND, 'Ongoing']);
    assert.deepEqual((await list(c)).txns, ['tx-open:Ongoing']);
    // The expired id starts over with a new producer id; its old producer is unknown now.
    const oldPid = idle.producerId;
    assert.deepEqual(await idle.add('t', [1]), [E.INVALID_PRODUCER_ID_MAPPING]);
    assert.equal(await idle.init(), E.NONE);
    assert.notEqual(idle.producerId, oldPid);
    assert.equal(idle.epoch, 0);
    // The store agrees: after a restart the same two ids, in the same states.
    c.close();
    await b.broker.stop();
    await b.broker.start();
    const c2 = await RawClient.connect(b.broker.bound[0]!.port);
    assert.deepEqual((await list(c2)).txns, ['tx-idle:Empty', 'tx-open:Ongoing']);
    c2.close();
  } finally {
    c.close();
    await b.stop();
  }
});

test('transactional offsets: only with AddOffsetsToTxn, invisible until commit, dropped on abort', async () => {
  const { b, c } = await setup();
  try {
    const fetchOffsets = async (requireStable = false) => {
      const r = await c.request(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }], requireStable });
      return r.topics[0].partitions.map((p: any) => (p.errorCode !== E.NONE ? `err${p.errorCode}` : Number(p.committedOffset)));
    };
    const p = new Txn(c, 'tx-o');
    assert.equal(await p.init(), E.NONE);
    assert.deepEqual(await p.add('t', [0]), [E.NONE]);
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 5]]), [E.INVALID_TXN_STATE], 'the group was not added (v3)');
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 5]], 4), [E.TRANSACTION_ABORTABLE], 'v4');
    assert.equal(await p.addOffsets('g'), E.NONE);
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 5], [1, 7], [9, 1]]), [E.NONE, E.NONE, E.UNKNOWN_TOPIC_OR_PARTITION]);
    assert.deepEqual(await p.commitOffsets('', 't', [[0, 5]]), [E.INVALID_GROUP_ID]);
    const d = (await describe(c, ['tx-o']))[0];
    assert.equal(d.topics.length, 2);
    assert.ok(d.topics.includes('t:0') && d.topics.some((t: string) => t.startsWith('__consumer_offsets:')), 'groups show as their __consumer_offsets partition');
    assert.deepEqual(await fetchOffsets(), [-1, -1], 'pending offsets are not visible');
    assert.deepEqual(await fetchOffsets(true), [`err${E.UNSTABLE_OFFSET_COMMIT}`, `err${E.UNSTABLE_OFFSET_COMMIT}`], 'requireStable waits for them');
    assert.equal((await p.produce('t', 0, ['r'])).errorCode, E.NONE);
    assert.equal(await p.end(true), E.NONE);
    assert.deepEqual(await fetchOffsets(true), [5, 7], 'visible once committed');

    // An aborted transaction's offsets never appear.
    assert.equal(await p.addOffsets('g'), E.NONE);
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 50]]), [E.NONE]);
    assert.equal(await p.end(false), E.NONE);
    assert.deepEqual(await fetchOffsets(true), [5, 7]);

    // A fenced producer cannot commit offsets.
    assert.equal(await p.addOffsets('g'), E.NONE);
    const next = new Txn(c, 'tx-o');
    assert.equal(await next.init(), E.CONCURRENT_TRANSACTIONS);
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 60]]), [E.INVALID_PRODUCER_EPOCH]);
    assert.equal(await p.addOffsets('g'), E.PRODUCER_FENCED);
  } finally {
    c.close();
    await b.stop();
  }
});

test('recovery: decided transactions are completed after a restart, duplicate markers are harmless, ongoing ones survive', async () => {
  const { b, c } = await setup();
  let client = c;
  try {
    // An ongoing transaction that must survive the restart.
    const q = new Txn(client, 'tx-q');
    assert.equal(await q.init(), E.NONE);
    assert.deepEqual(await q.add('t', [2]), [E.NONE]);
    assert.equal((await q.produce('t', 2, ['q1'])).errorCode, E.NONE);
    // 1. The commit decision is durable but the markers cannot be written (WAL writes fail), up to
    // the restart.
    const p = new Txn(client, 'tx-r');
    assert.equal(await p.init(), E.NONE);
    assert.deepEqual(await p.add('t', [0, 1]), [E.NONE, E.NONE]);
    assert.equal((await p.produce('t', 0, ['r0'])).errorCode, E.NONE);
    assert.equal((await p.produce('t', 1, ['r1'])).errorCode, E.NONE);
    assert.equal(await p.addOffsets('g'), E.NONE);
    assert.deepEqual(await p.commitOffsets('g', 't', [[0, 1]]), [E.NONE]);
    b.broker.walFaults = (step) => (step === 'write' ? new Error('EIO') : null);
    assert.equal(await p.end(true), E.NONE, 'the decision is durable, so the commit is acknowledged');
    assert.equal((await describe(client, ['tx-r']))[0].state, 'PrepareCommit', 'markers are still to be written');
    assert.equal(await p.end(true), E.CONCURRENT_TRANSACTIONS);
    assert.deepEqual(await p.add('t', [0]), [E.CONCURRENT_TRANSACTIONS]);
    assert.deepEqual((await read(client, 0)).values, []);
    client.close();
    await b.broker.stop();
    b.broker.walFaults = undefined;
    await b.broker.start();
    client = await RawClient.connect(b.broker.bound[0]!.port);
    let d = await describe(client, ['tx-r', 'tx-q']);
    assert.deepEqual([d[0].state, d[1].state], ['CompleteCommit', 'Ongoing']);
    assert.deepEqual((await read(client, 0)).values, ['r0']);
    assert.deepEqual((await read(client, 1)).values, ['r1']);
    const offsets = await client.request(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }], requireStable: true });
    assert.equal(Number(offsets.topics[0].partitions[0].committedOffset), 1, 'the transaction\'s offsets were committed on completion');
    assert.equal((await read(client, 2)).lso, 0, 'tx-q still holds partition 2');

    // tx-q goes on after the restart and commits.
    q.c.close();
    const q2 = new Txn(client, 'tx-q');
    Object.assign(q2, { producerId: q.producerId, epoch: q.epoch });
    (q2 as any).seqs = (q as any).seqs;
    assert.equal((await q2.produce('t', 2, ['q2'])).errorCode, E.NONE);
    assert.equal(await q2.end(true), E.NONE);
    assert.deepEqual((await read(client, 2)).values, ['q1', 'q2']);

    // 2. A crash after the markers but before completion: the markers are written again.
    const before = await read(client, 0);
    client.close();
    await b.broker.stop();
    const store = new SqliteMetadataStore(join(b.dataDir, 'metadata.sqlite'));
    await store.open();
    const rec = (await store.transactions()).find((t) => t.transactionalId === 'tx-r')!;
    await store.saveTransaction({ ...rec, state: 'PrepareCommit', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await store.close();
    await b.broker.start();
    client = await RawClient.connect(b.broker.bound[0]!.port);
    d = await describe(client, ['tx-r']);
    assert.equal(d[0].state, 'CompleteCommit');
    const after = await read(client, 0);
    assert.deepEqual(after.values, before.values, 'read_committed output unchanged');
    assert.deepEqual([after.markers, after.hw, after.lso], [before.markers + 1, before.hw + 1, before.hw + 1], 'one more (duplicate) marker, nothing held');

    // The producer goes on with a new transaction after all this.
    const p2 = new Txn(client, 'tx-r');
    assert.equal(await p2.init(), E.NONE);
    assert.deepEqual(await p2.add('t', [0]), [E.NONE]);
    assert.equal((await p2.produce('t', 0, ['r2'])).errorCode, E.NONE);
    assert.equal(await p2.end(true), E.NONE);
    assert.deepEqual((await read(client, 0)).values, ['r0', 'r2']);
  } finally {
    client.close();
    await b.stop();
  }
});
