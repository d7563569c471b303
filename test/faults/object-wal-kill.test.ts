// Kill -9 of a stateless broker (see object-wal-kill.ts): Strait with wal.kind=object,
// metadata.store=postgres and object.store=s3 on a real PostgreSQL and a real MinIO, under two
// idempotent VerifiableProducers, through STRAIT_TEST_OBJECT_WAL_KILLS (default 4) kill -9 restarts,
// one with MinIO killed, one with PostgreSQL restarted, one with PostgreSQL killed, and one restart
// on an empty data.dir under another node id; every acknowledged value ends up stored exactly once
// at its offset. Also the case the kill loop meets only by chance: PostgreSQL killed while a WAL
// commit holds a pooled connection. object-wal-kill.long.test.ts runs 24 kills. Needs
// scripts/install-test-deps.sh (Kafka's jars, kcat, MinIO) and PostgreSQL 15. STRAIT_TEST_SEED
// repeats a run's moments.
import { objectWalKillTest, postgresKillDuringCommitTest } from './object-wal-kill.ts';

postgresKillDuringCommitTest();
objectWalKillTest(4, (kills) => 90_000 + kills * 25_000);
