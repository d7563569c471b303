// Long run of reverse-link.test.ts: 10 kill -9 of Strait while it copies a promoted topic back to
// Kafka 4.3.1 under a live idempotent producer. The count reaches the test before it loads.
process.env.STRAIT_TEST_REVERSE_KILLS ??= '10';
await import('./reverse-link.test.ts');
