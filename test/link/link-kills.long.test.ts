// Long runs of the link crash tests: 20 kill -9 of Strait while it mirrors from Kafka 4.3.1 (plus
// the source outage), and 10 while it copies a promoted topic back to Kafka under a live producer.
// The tests are the ones `npm test` runs with fewer kills; the counts come in through their
// environment variables before they load.
process.env.STRAIT_MIRROR_KILLS ??= '20';
process.env.STRAIT_REVERSE_KILLS ??= '10';
await import('./mirror-crash.test.ts');
await import('./reverse-link.test.ts');
