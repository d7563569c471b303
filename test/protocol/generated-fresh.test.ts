// The committed codec must be what the generator makes from the protocol definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specs = process.env.STRAIT_PROTOCOL_SPECS ?? fileURLToPath(new URL('../../../shared/kafka-protocol', import.meta.url));

test('generated protocol code is up to date with the definitions', () => {
  assert.ok(existsSync(specs), `protocol definitions not found at ${specs}; set STRAIT_PROTOCOL_SPECS to their folder`);
  const r = spawnSync(process.execPath, ['scripts/generate-protocol.ts', '--check', '--specs', specs], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /up to date/);
});
