// The test command: `npm test` runs everything CI runs; `npm run test:unit` only the tests that need
// no third-party software; `npm run test:long` the long runs (many kill cycles, soak, scale).
//
// Before the compatibility tests it installs what they drive (scripts/install-test-deps.sh), into
// the git-ignored .cache/, so the first run on a fresh machine takes a few minutes and later ones
// start at once.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'all';
if (!['all', 'unit', 'long'].includes(mode)) {
  console.error(`usage: node scripts/test.ts [all|unit|long] (got '${mode}')`);
  process.exit(2);
}

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`test: '${cmd} ${args.join(' ')}' failed with ${r.status ?? r.signal}`);
    process.exit(r.status ?? 1);
  }
}

// STRAIT_TEST_TARGET=kafka points test/compat's client flows at Apache Kafka (to check the clients
// and the tests themselves): a green run then says nothing about Strait, so the run that stands
// for "Strait passes" refuses it. Run those files directly instead.
if (process.env['STRAIT_TEST_TARGET'] !== undefined && process.env['STRAIT_TEST_TARGET'] !== 'strait') {
  console.error(`test: npm test checks Strait, and STRAIT_TEST_TARGET=${process.env['STRAIT_TEST_TARGET']} would run test/compat against another broker; unset it, or run the files directly: STRAIT_TEST_TARGET=kafka node --test test/compat/<file>.test.ts`);
  process.exit(2);
}

const all = findTests(join(root, 'test'));
const isLong = (f: string) => f.endsWith('.long.test.ts');
// Tests that drive third-party software (Kafka's jars, kcat, Python and Go clients, MinIO; the s3
// engine's tests in test/storage start MinIO).
const needsDeps = (f: string) => /^test\/(compat|faults|e2e|link)\//.test(f) || /^test\/storage\/s3-[^/]*\.test\.ts$/.test(f) || /\/java-[^/]*$/.test(f);
let files: string[];
if (mode === 'long') files = all.filter(isLong);
else if (mode === 'unit') files = all.filter((f) => !isLong(f) && !needsDeps(f));
else files = all.filter((f) => !isLong(f));

run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root]);
if (files.some(needsDeps)) run('bash', [join(root, 'scripts/install-test-deps.sh')]);
console.log(`test: running ${files.length} test files (${mode})`);
run(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files]);

// The same end-to-end tests once more with the brokers on the object WAL (wal.kind=object, see
// test/helpers/broker.ts and the harness): produce paths, idempotence, transactions, groups, the log
// cleaner, mirrors and real clients. Files that test the file WAL itself (its faults, its segments)
// are not in the list.
const objectWalFiles = [
  'test/log/idempotence.test.ts',
  'test/log/transaction-markers.test.ts',
  'test/log/truncate.test.ts',
  'test/log/log-cleaner.test.ts',
  'test/log/append-at-offsets.test.ts',
  'test/coordinator/offsets.test.ts',
  'test/coordinator/consumer-group.test.ts',
  'test/coordinator/producer-expiry.test.ts',
  'test/api/topics.test.ts',
  'test/compat/produce-consume.test.ts',
  'test/compat/transactions.test.ts',
  'test/link/mirror.test.ts',
].filter((f) => files.includes(f));
if (objectWalFiles.length > 0) {
  console.log(`test: running ${objectWalFiles.length} test files again on the object WAL (STRAIT_TEST_WAL_KIND=object)`);
  run(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...objectWalFiles], { STRAIT_TEST_WAL_KIND: 'object' });
}
