// The long run of idempotent-kill.test.ts (npm run test:long): STRAIT_TEST_IDEMPOTENT_KILLS
// (default 12) kill -9 and restarts of Strait under one idempotent VerifiableProducer; see
// idempotent-kill.ts for what is checked. Set STRAIT_TEST_SEED to repeat a run's kill moments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from './crash-produce.ts';
import { runIdempotentKills } from './idempotent-kill.ts';

const kills = Number(process.env['STRAIT_TEST_IDEMPOTENT_KILLS'] ?? 12);

test(`idempotent producer through ${kills} kill -9 restarts: every value exactly once`, { timeout: 120_000 + kills * 20_000 }, async (t) => {
  const random = new Random();
  const result = await runIdempotentKills({ kills, random, straitArgs: ['--upload-interval-ms', '300'], log: (m) => t.diagnostic(m) });
  t.diagnostic(`seed ${random.seed}: ${JSON.stringify(result)}`);
  assert.equal(result.records, result.messages);
});
