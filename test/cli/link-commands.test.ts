// `strait link …` run as a process (node src/cli/main.ts link …) against the admin API server started
// here with an in-memory link service: what reaches the service, what the user reads, exit codes.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/common/logger.ts';
import { startHttpServer } from '../../src/http/index.ts';
import type { HttpServerHandle } from '../../src/http/index.ts';
import type { LinkDescription } from '../../src/link/service.ts';
import { FakeLinkService } from '../http/fake-link-service.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let links: FakeLinkService;
let server: HttpServerHandle;
let dir: string;

before(async () => {
  links = new FakeLinkService();
  server = await startHttpServer({ host: '127.0.0.1', port: 0, links, log: silentLogger, brokerInfo: () => ({}) });
  dir = mkdtempSync(join(tmpdir(), 'strait-cli-'));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  links.links.clear();
  links.calls.length = 0;
  links.failNext = null;
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with STRAIT_ADMIN_URL pointing at the test server unless env says otherwise. */
function strait(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'src', 'cli', 'main.ts'), 'link', ...args],
      { cwd: repoRoot, env: { ...process.env, STRAIT_ADMIN_URL: server.url, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        if (code === null) reject(error);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The cells of the table row whose first cell (after indentation) is `first`. */
function row(text: string, first: string): string[] {
  const line = text.split('\n').find((l) => l.trim().split(/\s{2,}/)[0] === first);
  assert.ok(line !== undefined, `a row starting with '${first}' in:\n${text}`);
  return line.trim().split(/\s{2,}/);
}

async function createEast(): Promise<void> {
  await links.create({ name: 'east', bootstrap: 'kafka-1:9092', topics: { include: ['orders.*'], exclude: [] } });
  await links.mirrorTopic('east', 'orders');
  links.calls.length = 0;
}

test('link --help lists the commands', async () => {
  const r = await strait(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['create NAME --bootstrap', 'list', 'describe NAME', 'pause NAME', 'resume NAME', 'delete NAME [--force]', 'mirror NAME TOPIC', 'promote NAME', 'failover NAME', '--admin URL']) {
    assert.ok(r.stdout.includes(cmd), `help mentions ${cmd}`);
  }
  assert.equal((await strait(['describe', '--help'])).code, 0);
});

test('link create turns every flag into the link settings the broker validates', async () => {
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'pa ss\n');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const r = await strait([
    'create', 'east',
    '--bootstrap', 'kafka-1:9092,kafka-2:9092', '--bootstrap=kafka-3:9092',
    '--include', 'orders.*', '--include', 'payments',
    '--exclude', 'orders\\.tmp',
    '--group-exclude', 'test-.*',
    '--no-auto-create',
    '--security-protocol', 'SASL_SSL',
    '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'mirror', '--sasl-password-file', passwordFile,
    '--tls-ca-file', caFile,
    '--set', 'fetchMaxWaitMs=250', '--set', 'aclSync=false', '--set', 'tls.servername=kafka.example', '--set', 'configExclude=min.insync.replicas,retention.ms',
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.deepEqual(links.calls, [
    {
      op: 'create',
      args: [
        {
          name: 'east',
          bootstrap: ['kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092'],
          topics: { include: ['orders.*', 'payments'], exclude: ['orders\\.tmp'] },
          groups: { exclude: ['test-.*'] },
          autoCreateMirrors: false,
          securityProtocol: 'SASL_SSL',
          sasl: { mechanism: 'SCRAM-SHA-512', username: 'mirror', password: 'pa ss' },
          tls: { ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', servername: 'kafka.example' },
          fetchMaxWaitMs: 250,
          aclSync: false,
          configExclude: ['min.insync.replicas', 'retention.ms'],
        },
      ],
    },
  ]);
  assert.equal(r.stdout, 'Created link east (active) from kafka-1:9092,kafka-2:9092,kafka-3:9092\n  topics include orders.* payments; exclude orders\\.tmp; auto-create mirrors off\n');
  // The group default (every group) survives a lone --group-exclude.
  assert.deepEqual(links.links.get('east')!.spec.groups, { include: ['.*'], exclude: ['test-.*'] });

  const json = await strait(['create', 'west', '--bootstrap', 'k:1', '--json']);
  assert.equal(json.code, 0);
  assert.equal((JSON.parse(json.stdout) as LinkDescription).name, 'west');
});

test('link create: the broker\'s refusal is printed with its code; flag mistakes are usage errors', async () => {
  const invalid = await strait(['create', 'east', '--bootstrap', 'nohost', '--set', 'fetchMaxBytes=10']);
  assert.equal(invalid.code, 1);
  assert.equal(invalid.stdout, '');
  assert.match(invalid.stderr, /^strait: invalid link: bootstrap server 'nohost' is not host:port; fetchMaxBytes must be an integer of at least 1024 \(STRAIT_LINK_INVALID\)\n$/);

  await strait(['create', 'east', '--bootstrap', 'k:1']);
  const dup = await strait(['create', 'east', '--bootstrap', 'k:1']);
  assert.equal(dup.code, 1);
  assert.equal(dup.stderr, "strait: link 'east' already exists (STRAIT_LINK_EXISTS)\n");

  const missingFile = await strait(['create', 'north', '--bootstrap', 'k:1', '--sasl-mechanism', 'PLAIN', '--sasl-username', 'u', '--sasl-password-file', join(dir, 'nope')]);
  assert.equal(missingFile.code, 1);
  assert.match(missingFile.stderr, /^strait: cannot read --sasl-password-file .*nope: ENOENT/);
});

test('usage mistakes exit 2 and send nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['create', 'east'], /link create needs --bootstrap/],
    [['create', '--bootstrap', 'k:1'], /missing NAME/],
    [['create', 'east', '--bootstrap', 'k:1', '--sasl-username', 'u'], /SASL needs --sasl-mechanism, --sasl-username, --sasl-password-file; missing --sasl-mechanism, --sasl-password-file/],
    [['create', 'east', '--bootstrap', 'k:1', '--set', 'novalue'], /--set expects KEY=VALUE, got 'novalue'/],
    [['create', 'east', '--bootstrap', 'k:1', '--set', 'topics={bad'], /--set topics: '\{bad' is not valid JSON/],
    [['describe'], /missing NAME/],
    [['describe', 'east', 'west'], /unexpected argument 'west' \(expected NAME\)/],
    [['describe', 'east', '--verbose'], /unknown option --verbose/],
    [['delete', 'east', '--json'], /unknown option --json/],
    [['promote', 'east', '--timeout-ms', 'soon'], /--timeout-ms must be a whole number of milliseconds, got 'soon'/],
    [['promote', 'east', '--timeout-ms'], /option --timeout-ms needs a value/],
    [['frobnicate'], /unknown link command 'frobnicate'/],
    [['list', '--admin', 'ftp://x'], /admin URL 'ftp:\/\/x' must be http:\/\/ or https:\/\//],
  ];
  for (const [args, message] of cases) {
    const r = await strait(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /Run 'strait link --help'/);
  }
  assert.deepEqual(links.calls, []);
});

test('link describe prints the link, each mirror per partition, and the groups; --json the answer', async () => {
  await createEast();
  links.addGroup('east', { groupId: 'billing', state: 'synced', lastSyncMs: Date.UTC(2026, 0, 2, 3, 5, 0), heldBack: 1, offsetsSynced: 12, error: null, gatedOnSource: false });
  const r = await strait(['describe', 'east']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^Link east \(active\)\n/);
  assert.deepEqual(row(out, 'source'), ['source', 'kafka-1:9092 (PLAINTEXT, cluster source-cluster)']);
  assert.deepEqual(row(out, 'source error'), ['source error', '-']);
  assert.deepEqual(row(out, 'created'), ['created', '2026-01-02T03:04:05Z']);
  assert.deepEqual(row(out, 'topics'), ['topics', 'include orders.*; exclude (none); auto-create mirrors on']);
  assert.ok(!out.includes('ACL sync '), 'no ACL note while there is none');
  assert.match(out, /Mirror topics \(1\)\n {2}orders: mirroring, lag 5 records\n/);
  assert.deepEqual(row(out, 'PARTITION'), ['PARTITION', 'MIRRORED END', 'SOURCE HW', 'LAG RECORDS', 'LAG SECONDS', 'ERROR']);
  assert.deepEqual(row(out, '0'), ['0', '100', '100', '0', '0', '-']);
  assert.deepEqual(row(out, '1'), ['1', '200', '205', '5', '1.5', 'NOT_LEADER_OR_FOLLOWER from source broker 2']);
  assert.match(out, /Consumer groups \(1\)\n/);
  assert.deepEqual(row(out, 'billing'), ['billing', 'synced', '12', '1', '2026-01-02T03:05:00Z', '-']);

  links.links.get('east')!.aclSyncNote = 'the source has no authorizer: no ACLs to sync';
  assert.deepEqual(row((await strait(['describe', 'east'])).stdout, 'ACL sync'), ['ACL sync', 'the source has no authorizer: no ACLs to sync']);

  const json = await strait(['describe', 'east', '--json']);
  assert.equal(json.code, 0);
  const answered = JSON.parse(json.stdout) as LinkDescription;
  assert.deepEqual(answered, await links.describe('east'));

  const missing = await strait(['describe', 'west']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.equal(missing.stderr, "strait: link 'west' does not exist (STRAIT_LINK_NOT_FOUND)\n");
});

test('link list, pause, resume and mirror', async () => {
  assert.equal((await strait(['list'])).stdout, 'no links\n');
  await createEast();
  const list = await strait(['list']);
  assert.equal(list.code, 0);
  assert.deepEqual(row(list.stdout, 'NAME'), ['NAME', 'STATE', 'SOURCE', 'MIRRORS', 'LAG RECORDS', 'SOURCE ERROR']);
  assert.deepEqual(row(list.stdout, 'east'), ['east', 'active', 'kafka-1:9092', '1', '5', '-']);
  assert.deepEqual((JSON.parse((await strait(['list', '--json'])).stdout) as LinkDescription[]).map((l) => l.name), ['east']);

  assert.equal((await strait(['pause', 'east'])).stdout, 'Link east is paused\n');
  assert.equal(links.links.get('east')!.state, 'paused');
  assert.equal((await strait(['resume', 'east'])).stdout, 'Link east is active\n');

  const m = await strait(['mirror', 'east', 'payments']);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(m.stdout, 'Mirror topic payments of link east created: mirroring, 2 partitions\n');
  assert.deepEqual(links.calls.at(-1), { op: 'mirrorTopic', args: ['east', 'payments'] });
  const dup = await strait(['mirror', 'east', 'payments']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /\(STRAIT_MIRROR_EXISTS\)\n$/);
});

test('link promote and failover send their topics and timeout and print the report', async () => {
  await createEast();
  await links.mirrorTopic('east', 'payments');
  links.calls.length = 0;
  const p = await strait(['promote', 'east', '--topic', 'orders', '--timeout-ms', '2500']);
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(links.calls, [{ op: 'promote', args: ['east', { topics: ['orders'], timeoutMs: 2500 }] }]);
  assert.match(p.stdout, /^Promoted 1 topic of link east\n/);
  assert.deepEqual(row(p.stdout, 'orders'), ['orders', 'promoted', '0', '1', '0']);
  assert.deepEqual(row(p.stdout, '1'), ['1', '205', '205', '0']);

  links.failNext = new (await import('../../src/common/errors.ts')).StraitError('STRAIT_PROMOTE_TIMEOUT', 'orders did not catch up within 2500 ms');
  const late = await strait(['promote', 'east', '--timeout-ms', '2500']);
  assert.equal(late.code, 1);
  assert.equal(late.stderr, 'strait: orders did not catch up within 2500 ms (STRAIT_PROMOTE_TIMEOUT)\n');

  const f = await strait(['failover', 'east']);
  assert.equal(f.code, 0, f.stderr);
  assert.deepEqual(links.calls.at(-1), { op: 'failover', args: ['east', {}] });
  assert.match(f.stdout, /^Failed over 1 topic of link east\n/);
  assert.deepEqual(row(f.stdout, 'payments'), ['payments', 'failed-over', '5', '0', '0']);
  assert.match(f.stdout, /warning: the source held up to 5 records that were not mirrored before the failover\n$/);

  const json = await strait(['failover', 'east', '--topic', 'orders', '--json']);
  assert.equal(json.code, 1, 'orders is already promoted');
  assert.match(json.stderr, /STRAIT_MIRROR_STATE/);
});

test('link reverse starts the copy back and prints its progress; --wait-ms fails with the lag; --stop stops it', async () => {
  await createEast();
  const early = await strait(['reverse', 'east']);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /no promoted topic to copy back \(promote first\) \(STRAIT_MIRROR_STATE\)/);
  await links.promote('east');
  links.calls.length = 0;

  const r = await strait(['reverse', 'east', '--topic', 'orders']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(links.calls, [{ op: 'reverse', args: ['east', { topics: ['orders'] }] }]);
  assert.match(r.stdout, /^orders:\n  copy back to the source: running, offsets identical\n/);
  // PARTITION STATE FROM NEXT SOURCE-NEXT LAG COPIED SKIPPED ERROR (the fake promoted at 100 and 205).
  assert.deepEqual(row(r.stdout, '0'), ['0', 'caught-up', '100', '110', '110', '0', '10', '0', '-']);
  assert.deepEqual(row(r.stdout, '1'), ['1', 'retrying', '205', '215', '215', '7', '10', '0', 'NOT_LEADER_OR_FOLLOWER']);
  assert.deepEqual(row(r.stdout, 'billing'), ['billing', 'pending', '3', '1', '2026-01-02T03:06:00Z', '-']);

  const d = await strait(['describe', 'east']);
  assert.match(d.stdout, /orders: promoted, [^\n]*\n[\s\S]*last promotion[^\n]*\n    copy back to the source: running, offsets identical\n/);

  const wait = await strait(['reverse', 'east', '--wait-ms', '700']);
  assert.equal(wait.code, 1);
  assert.match(wait.stderr, /the copy back did not catch up within 700 ms: orders-1: 7 behind \(NOT_LEADER_OR_FOLLOWER\)/);

  const misuse = await strait(['reverse', 'east', '--stop', '--wait-ms', '5']);
  assert.equal(misuse.code, 2);
  const stop = await strait(['reverse', 'east', '--stop']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual(links.calls.at(-1), { op: 'stopReverse', args: ['east', {}] });
  assert.equal(stop.stdout, 'orders: no longer copied back to the source\n');
});

test('link delete refuses while mirrors mirror, and deletes with --force', async () => {
  await createEast();
  const refused = await strait(['delete', 'east']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^strait: link 'east' still mirrors orders; promote them or delete with force \(STRAIT_LINK_HAS_MIRRORS\)\n$/);
  const forced = await strait(['delete', 'east', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, 'Deleted link east\n');
  assert.deepEqual(links.calls.at(-1), { op: 'delete', args: ['east', { force: true }] });
  assert.equal(links.links.size, 0);
});

test('a broker that cannot be reached is named; --admin beats STRAIT_ADMIN_URL; a non-Strait server is told apart', async () => {
  const port = await freePort();
  const down = await strait(['list', '--admin', `127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.equal(down.stdout, '');
  assert.match(down.stderr, new RegExp(`^strait: cannot reach the Strait admin API at http://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\); is the broker running with http\\.listener at that address\\?`));

  const fromEnv = await strait(['list'], { STRAIT_ADMIN_URL: `http://127.0.0.1:${port}/` });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.stderr, new RegExp(`at http://127\\.0\\.0\\.1:${port} `));
  const override = await strait(['list', '--admin', server.url], { STRAIT_ADMIN_URL: `http://127.0.0.1:${port}` });
  assert.equal(override.code, 0, override.stderr);

  const other = createHttpServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<h1>Not Found</h1>');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  try {
    const r = await strait(['describe', 'east', '--admin', otherUrl]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `strait: ${otherUrl}/v1/links/east answered 404 Not Found with something other than JSON; is ${otherUrl} Strait's admin API?\n`);
  } finally {
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
});
