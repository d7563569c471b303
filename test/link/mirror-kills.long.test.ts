// Long run of mirror-crash.test.ts: 20 kill -9 of Strait while it mirrors from Kafka 4.3.1 (plus the
// source outage). The count reaches the test through its environment variable before it loads.
process.env.STRAIT_TEST_MIRROR_KILLS ??= '20';
await import('./mirror-crash.test.ts');
