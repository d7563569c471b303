// Kill -9 under an idempotent producer (see idempotent-kill.ts for what is checked): Apache Kafka's
// VerifiableProducer with enable.idempotence=true writes through STRAIT_TEST_IDEMPOTENT_KILLS
// (default 3) kill -9 and restarts of Strait on the same data folder and port; every value ends up
// stored exactly once, in order, with no fatal producer error. idempotent-kill.long.test.ts runs
// many more kills. Needs scripts/install-test-deps.sh (Kafka's jars, kcat).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from './crash-produce.ts';
import { runIdempotentKills } from './idempotent-kill.ts';

const kills = Number(process.env['STRAIT_TEST_IDEMPOTENT_KILLS'] ?? 3);

test(`idempotent producer through ${kills} kill -9 restarts: every value exactly once`, { timeout: 60_000 + kills * 15_000 }, async (t) => {
  const random = new Random();
  const result = await runIdempotentKills({ kills, random, straitArgs: ['--upload-interval-ms', '300'], log: (m) => t.diagnostic(m) });
  t.diagnostic(`seed ${random.seed}: ${JSON.stringify(result)}`);
  assert.equal(result.records, result.messages);
});
