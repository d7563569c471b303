// The long run of store-outage-kill.test.ts (npm run test:long), issue #11's "kill -9 cycles with the
// object store failing and recovering" (see store-outage-kill.ts): STRAIT_TEST_OUTAGE_KILLS (default
// 50) kills of Strait on the S3 engine under two idempotent producers, MinIO behind a proxy that
// refuses, resets and black-holes its connections every few seconds, the upload backlog over
// upload.pending.bytes.max; every acknowledged value ends up stored exactly once at its offset.
// Needs scripts/install-test-deps.sh (Kafka's jars, kcat, MinIO). Set STRAIT_TEST_SEED to repeat a
// run's kill and outage moments.
import { storeOutageKillTest } from './store-outage-kill.ts';

storeOutageKillTest(50, (kills) => 180_000 + kills * 20_000);
