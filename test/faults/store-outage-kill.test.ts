// Kill -9 under idempotent producers while the object store keeps failing and recovering (see
// store-outage-kill.ts): STRAIT_TEST_OUTAGE_KILLS (default 3) kills of Strait on the S3 engine, MinIO
// behind a proxy that refuses, resets and black-holes its connections every few seconds, the upload
// backlog over upload.pending.bytes.max; every acknowledged value ends up stored exactly once at its
// offset. store-outage-kill.long.test.ts runs 50 kills. Needs scripts/install-test-deps.sh (Kafka's
// jars, kcat, MinIO). Set STRAIT_TEST_SEED to repeat a run's kill and outage moments.
import { storeOutageKillTest } from './store-outage-kill.ts';

storeOutageKillTest(3, (kills) => 90_000 + kills * 15_000);
