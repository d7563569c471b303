// The metadata layer's surface: one MetadataStore contract, engines behind it (SQLite today,
// PostgreSQL when several brokers share a cluster). Everything a broker needs after a crash that is
// not record data lives here; broker memory is only a cache of it.
export { FencedError } from './store.ts';
export type { BrokerIncarnation, FencedPartition, LeaderFence, WalRange, WalObjectRecord } from './store.ts';
export type { MetadataStore, TopicRecord, PartitionRecord, NewTopic, BrokerRecord, ObjectRange, NewObjectRange, ProducerSnapshot, LeaderEpochHistory } from './store.ts';
export type { GroupRecord, CommittedOffsetRecord } from './store.ts';
export type { LinkRecord, MirrorRecord, LinkGroupRecord } from './store.ts';
export type { AclBindingRecord, AclRecord } from './store.ts';
export { SqliteMetadataStore } from './sqlite/sqlite-store.ts';
export { PostgresMetadataStore, describePostgresUrl } from './postgres/postgres-store.ts';
export type { PostgresMetadataConfig } from './postgres/postgres-store.ts';
export { createMetadataStore } from './factory.ts';
export { randomKafkaUuid } from './ids.ts';
