// The long run of object-wal-kill.test.ts (npm run test:long), issue #12's crash test of the object
// WAL (see object-wal-kill.ts): STRAIT_TEST_OBJECT_WAL_KILLS (default 24) kill -9 restarts of Strait
// with wal.kind=object on a real MinIO and PostgreSQL under two idempotent producers, MinIO killed,
// PostgreSQL restarted and PostgreSQL killed six times each, three restarts on an empty data.dir
// under a new node id; every acknowledged value ends up stored exactly once at its offset. Needs
// scripts/install-test-deps.sh (Kafka's jars, kcat, MinIO) and PostgreSQL 15. STRAIT_TEST_SEED
// repeats a run's moments.
import { objectWalKillTest } from './object-wal-kill.ts';

objectWalKillTest(24, (kills) => 180_000 + kills * 30_000);
