// The HTTP admin API against an in-memory link service: every route, the mapping of StraitError
// codes to statuses, request checks (body size, JSON, unknown fields), and the /metrics text.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { StraitError } from '../../src/common/errors.ts';
import { createLogger } from '../../src/common/logger.ts';
import { startHttpServer, HTTP_BODY_BYTES_MAX, formatPrometheus } from '../../src/http/index.ts';
import type { HttpServerHandle } from '../../src/http/index.ts';
import type { LinkDescription, MirrorStatus, PromotionReport, ReverseReport } from '../../src/link/service.ts';
import { FakeLinkService } from './fake-link-service.ts';

let links: FakeLinkService;
let server: HttpServerHandle;
let logLines: Record<string, unknown>[] = [];

before(async () => {
  links = new FakeLinkService();
  const log = createLogger('info', {}, (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));
  server = await startHttpServer({ host: '127.0.0.1', port: 0, links, log, brokerInfo: () => ({ nodeId: 7, clusterId: 'c-1' }) });
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  links.links.clear();
  links.calls.length = 0;
  links.failNext = null;
  links.extraMetrics = [];
  logLines = [];
});

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

async function call(method: string, path: string, body?: unknown, init: { raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.startsWith('application/json') ?? false;
  return { status: res.status, headers: res.headers, body: isJson ? JSON.parse(text) : undefined, text };
}

function errorOf(a: Answer): { code: string; message: string } {
  return (a.body as { error: { code: string; message: string } }).error;
}

const spec = { name: 'east', bootstrap: 'kafka-1:9092,kafka-2:9092', securityProtocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'mirror', password: 's3cret' }, topics: { include: ['orders.*'], exclude: [] } };

test('the handle names the bound address; GET /v1/health merges the broker info', async () => {
  assert.equal(server.host, '127.0.0.1');
  assert.ok(server.port > 0);
  assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  const a = await call('GET', '/v1/health');
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type')!, /^application\/json/);
  assert.deepEqual(a.body, { status: 'ok', nodeId: 7, clusterId: 'c-1' });
});

test('POST /v1/links creates (201), GET lists and describes, and the password never leaves the broker', async () => {
  const created = await call('POST', '/v1/links', spec);
  assert.equal(created.status, 201);
  const link = created.body as LinkDescription;
  assert.equal(link.name, 'east');
  assert.deepEqual(link.spec.bootstrap, ['kafka-1:9092', 'kafka-2:9092']);
  assert.equal(link.spec.sasl!.password, '********');
  assert.ok(!created.text.includes('s3cret'));
  // The service got the real password.
  assert.equal((links.calls[0]!.args[0] as typeof spec).sasl.password, 's3cret');

  const listed = await call('GET', '/v1/links');
  assert.equal(listed.status, 200);
  assert.deepEqual((listed.body as { links: LinkDescription[] }).links.map((l) => [l.name, l.spec.sasl!.password]), [['east', '********']]);

  const described = await call('GET', '/v1/links/east');
  assert.equal(described.status, 200);
  assert.equal((described.body as LinkDescription).linkId, link.linkId);
  assert.ok(!described.text.includes('s3cret'));
});

test('link creation errors: invalid spec 400, duplicate 409, a body that is not an object 400', async () => {
  const invalid = await call('POST', '/v1/links', { name: 'bad name', bootstrap: 'nohost', fetchMaxBytes: 1 });
  assert.equal(invalid.status, 400);
  assert.equal(errorOf(invalid).code, 'STRAIT_LINK_INVALID');
  assert.match(errorOf(invalid).message, /name must be/);
  assert.match(errorOf(invalid).message, /bootstrap server 'nohost' is not host:port/);
  assert.match(errorOf(invalid).message, /fetchMaxBytes must be an integer of at least 1024/);

  assert.equal((await call('POST', '/v1/links', spec)).status, 201);
  const dup = await call('POST', '/v1/links', spec);
  assert.equal(dup.status, 409);
  assert.equal(errorOf(dup).code, 'STRAIT_LINK_EXISTS');

  for (const body of [[spec], 'east', 42, null]) {
    const a = await call('POST', '/v1/links', body);
    assert.equal(a.status, 400, JSON.stringify(body));
    assert.equal(errorOf(a).code, 'STRAIT_LINK_INVALID');
  }
  const empty = await call('POST', '/v1/links');
  assert.equal(empty.status, 400);
  assert.equal(errorOf(empty).code, 'STRAIT_LINK_INVALID');
});

test('pause and resume answer the link in its new state; unknown links are 404', async () => {
  await call('POST', '/v1/links', spec);
  const paused = await call('POST', '/v1/links/east/pause');
  assert.equal(paused.status, 200);
  assert.equal((paused.body as LinkDescription).state, 'paused');
  const resumed = await call('POST', '/v1/links/east/resume', {});
  assert.equal(resumed.status, 200);
  assert.equal((resumed.body as LinkDescription).state, 'active');
  for (const [method, path] of [['GET', '/v1/links/west'], ['POST', '/v1/links/west/pause'], ['POST', '/v1/links/west/resume'], ['DELETE', '/v1/links/west']]) {
    const a = await call(method!, path!);
    assert.equal(a.status, 404, `${method} ${path}`);
    assert.deepEqual(a.body, { error: { code: 'STRAIT_LINK_NOT_FOUND', message: "link 'west' does not exist" } });
  }
});

test('POST /v1/links/:name/mirrors creates a mirror (201); duplicates 409; the body is checked', async () => {
  await call('POST', '/v1/links', spec);
  const m = await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  assert.equal(m.status, 201);
  assert.equal((m.body as MirrorStatus).topic, 'orders');
  assert.equal((m.body as MirrorStatus).partitions.length, 2);
  assert.deepEqual(links.calls.at(-1), { op: 'mirrorTopic', args: ['east', 'orders'] });

  const dup = await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  assert.equal(dup.status, 409);
  assert.equal(errorOf(dup).code, 'STRAIT_MIRROR_EXISTS');

  const cases: [unknown, RegExp][] = [
    [undefined, /topic must name the source topic/],
    [{ topic: '' }, /topic must name the source topic/],
    [{ topic: 7 }, /topic must name the source topic/],
    [{ topics: ['orders'] }, /unknown field 'topics' in a mirror request \(known: topic\)/],
    [['orders'], /must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const a = await call('POST', '/v1/links/east/mirrors', body);
    assert.equal(a.status, 400, JSON.stringify(body));
    assert.equal(errorOf(a).code, 'STRAIT_HTTP_BAD_REQUEST');
    assert.match(errorOf(a).message, message);
  }
});

test('promote and failover pass their options through and answer the report', async () => {
  await call('POST', '/v1/links', spec);
  await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  await call('POST', '/v1/links/east/mirrors', { topic: 'payments' });

  const p = await call('POST', '/v1/links/east/promote', { topics: ['orders'], timeoutMs: 2500 });
  assert.equal(p.status, 200);
  assert.deepEqual(links.calls.at(-1), { op: 'promote', args: ['east', { topics: ['orders'], timeoutMs: 2500 }] });
  const report = p.body as PromotionReport;
  assert.equal(report.kind, 'promote');
  assert.deepEqual(report.topics.map((t) => [t.topic, t.state]), [['orders', 'promoted']]);

  const again = await call('POST', '/v1/links/east/promote', { topics: ['orders'] });
  assert.equal(again.status, 409);
  assert.equal(errorOf(again).code, 'STRAIT_MIRROR_STATE');
  const missing = await call('POST', '/v1/links/east/failover', { topics: ['nope'] });
  assert.equal(missing.status, 404);
  assert.equal(errorOf(missing).code, 'STRAIT_MIRROR_NOT_FOUND');

  const f = await call('POST', '/v1/links/east/failover');
  assert.equal(f.status, 200);
  assert.deepEqual(links.calls.at(-1), { op: 'failover', args: ['east', {}] });
  const fr = f.body as PromotionReport;
  assert.equal(fr.kind, 'failover');
  assert.deepEqual(fr.topics.map((t) => [t.topic, t.state, t.lossWindowRecords]), [['payments', 'failed-over', 5]]);
});

test('reverse starts and stops the copy back of promoted topics; misspelt bodies and unpromoted topics are refused', async () => {
  await call('POST', '/v1/links', spec);
  await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  await call('POST', '/v1/links/east/mirrors', { topic: 'payments' });
  const early = await call('POST', '/v1/links/east/reverse');
  assert.equal(early.status, 409, 'nothing promoted yet');
  assert.equal(errorOf(early).code, 'STRAIT_MIRROR_STATE');
  await call('POST', '/v1/links/east/promote', { topics: ['orders'] });
  const still = await call('POST', '/v1/links/east/reverse', { topics: ['payments'] });
  assert.equal(still.status, 409);
  assert.match(errorOf(still).message, /payments' is mirroring: only a promoted topic is copied back/);
  for (const [body, message] of [
    [{ topic: 'orders' }, /unknown field 'topic' in reverse \(known: topics\)/],
    [{ topics: [] }, /topics must be a non-empty list/],
  ] as const) {
    const bad = await call('POST', '/v1/links/east/reverse', body);
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad).message, message);
  }
  const r = await call('POST', '/v1/links/east/reverse', { topics: ['orders'] });
  assert.equal(r.status, 200);
  assert.deepEqual(links.calls.at(-1), { op: 'reverse', args: ['east', { topics: ['orders'] }] });
  const report = r.body as ReverseReport;
  assert.deepEqual(report.topics.map((t) => [t.topic, t.reversing, t.status?.partitions.length]), [['orders', true, 2]]);
  const described = (await call('GET', '/v1/links/east')).body as LinkDescription;
  assert.deepEqual(described.mirrors.map((m) => [m.topic, m.reversing]), [['orders', true], ['payments', false]]);
  const stop = await call('POST', '/v1/links/east/reverse/stop');
  assert.equal(stop.status, 200);
  assert.deepEqual(links.calls.at(-1), { op: 'stopReverse', args: ['east', {}] });
  assert.deepEqual((stop.body as ReverseReport).topics.map((t) => [t.topic, t.reversing]), [['orders', false]]);
});

test('promote and failover bodies: a misspelt field is refused rather than promoting every topic', async () => {
  await call('POST', '/v1/links', spec);
  const cases: [string, unknown, RegExp][] = [
    ['promote', { topic: 'orders' }, /unknown field 'topic' in promote \(known: topics, timeoutMs\)/],
    ['promote', { topics: [] }, /topics must be a non-empty list/],
    ['promote', { topics: 'orders' }, /topics must be a non-empty list/],
    ['promote', { timeoutMs: -1 }, /timeoutMs must be an integer of at least 0/],
    ['promote', { timeoutMs: 1.5 }, /timeoutMs must be an integer/],
    ['failover', { timeoutMs: 1000 }, /unknown field 'timeoutMs' in failover \(known: topics\)/],
  ];
  for (const [op, body, message] of cases) {
    const a = await call('POST', `/v1/links/east/${op}`, body);
    assert.equal(a.status, 400, `${op} ${JSON.stringify(body)}`);
    assert.equal(errorOf(a).code, 'STRAIT_HTTP_BAD_REQUEST');
    assert.match(errorOf(a).message, message);
  }
  assert.ok(!links.calls.some((c) => c.op === 'promote' || c.op === 'failover'), 'no malformed request reached the service');
});

test('DELETE /v1/links/:name refuses while mirrors mirror (409) and deletes with ?force=true (204)', async () => {
  await call('POST', '/v1/links', spec);
  await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  const refused = await call('DELETE', '/v1/links/east');
  assert.equal(refused.status, 409);
  assert.equal(errorOf(refused).code, 'STRAIT_LINK_HAS_MIRRORS');
  assert.deepEqual(links.calls.at(-1), { op: 'delete', args: ['east', { force: false }] });
  const bad = await call('DELETE', '/v1/links/east?force=yes');
  assert.equal(bad.status, 400);
  assert.match(errorOf(bad).message, /force must be true or false, got 'yes'/);
  const deleted = await call('DELETE', '/v1/links/east?force=true');
  assert.equal(deleted.status, 204);
  assert.equal(deleted.text, '');
  assert.deepEqual(links.calls.at(-1), { op: 'delete', args: ['east', { force: true }] });
  assert.equal((await call('GET', '/v1/links/east')).status, 404);
});

test('StraitError codes map to HTTP statuses; anything else is a logged 500', async () => {
  await call('POST', '/v1/links', spec);
  const table: [Error, number, string][] = [
    [new StraitError('STRAIT_LINK_NOT_FOUND', 'x'), 404, 'STRAIT_LINK_NOT_FOUND'],
    [new StraitError('STRAIT_MIRROR_NOT_FOUND', 'x'), 404, 'STRAIT_MIRROR_NOT_FOUND'],
    [new StraitError('STRAIT_LINK_EXISTS', 'x'), 409, 'STRAIT_LINK_EXISTS'],
    [new StraitError('STRAIT_LINK_HAS_MIRRORS', 'x'), 409, 'STRAIT_LINK_HAS_MIRRORS'],
    [new StraitError('STRAIT_MIRROR_EXISTS', 'x'), 409, 'STRAIT_MIRROR_EXISTS'],
    [new StraitError('STRAIT_MIRROR_STATE', 'x'), 409, 'STRAIT_MIRROR_STATE'],
    [new StraitError('STRAIT_LINK_INVALID', 'x'), 400, 'STRAIT_LINK_INVALID'],
    [new StraitError('STRAIT_PROMOTE_TIMEOUT', 'mirror did not catch up within 2500 ms'), 504, 'STRAIT_PROMOTE_TIMEOUT'],
    [new StraitError('STRAIT_LINK_SOURCE_UNAVAILABLE', 'x'), 503, 'STRAIT_LINK_SOURCE_UNAVAILABLE'],
    [new StraitError('STRAIT_METADATA_CONFLICT', 'lost a race'), 500, 'STRAIT_METADATA_CONFLICT'],
    [new TypeError('cannot read properties of undefined'), 500, 'STRAIT_INTERNAL'],
  ];
  for (const [err, status, code] of table) {
    logLines = [];
    links.failNext = err;
    const a = await call('POST', '/v1/links/east/promote', { timeoutMs: 2500 });
    assert.equal(a.status, status, code);
    assert.deepEqual(a.body, { error: { code, message: err.message } });
    const logged = logLines.filter((l) => l.level === 'error');
    if (status === 500) {
      assert.equal(logged.length, 1, `${code} is logged`);
      assert.equal(logged[0]!.code, code);
      assert.equal(logged[0]!.path, '/v1/links/east/promote');
    } else assert.equal(logged.length, 0, `${code} is an answer, not a server fault`);
  }
});

test('request bodies: malformed JSON is 400; more than 1 MiB is 413 whether declared or streamed', async () => {
  await call('POST', '/v1/links', spec);
  const malformed = await call('POST', '/v1/links', undefined, { raw: '{"name": "west",' });
  assert.equal(malformed.status, 400);
  assert.equal(errorOf(malformed).code, 'STRAIT_HTTP_INVALID_JSON');
  assert.match(errorOf(malformed).message, /^request body is not valid JSON: /);

  // Exactly at the limit is read (and then refused for what it says, not for its size).
  const atLimit = JSON.stringify({ topic: 'orders' }).padEnd(HTTP_BODY_BYTES_MAX, ' ');
  const ok = await call('POST', '/v1/links/east/mirrors', undefined, { raw: atLimit });
  assert.equal(ok.status, 201);

  const declared = await call('POST', '/v1/links/east/mirrors', undefined, { raw: atLimit + ' ' });
  assert.equal(declared.status, 413);
  assert.equal(errorOf(declared).code, 'STRAIT_HTTP_BODY_TOO_LARGE');

  // Chunked, with no Content-Length: the server counts as it reads.
  const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/v1/links/east/mirrors', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    for (let sent = 0; sent <= HTTP_BODY_BYTES_MAX; sent += chunk.length) req.write(chunk);
    req.end();
  });
  assert.equal(streamed.status, 413);
  assert.equal(JSON.parse(streamed.body).error.code, 'STRAIT_HTTP_BODY_TOO_LARGE');
  assert.equal(links.calls.filter((c) => c.op === 'mirrorTopic').length, 1, 'only the body within the limit reached the service');

  // The server still answers afterwards.
  assert.equal((await call('GET', '/v1/health')).status, 200);
});

test('unknown routes are 404; a known route with the wrong method is 405 with Allow', async () => {
  for (const path of ['/', '/v1', '/v1/linkz', '/v1/links/east/promote/now', '/metrics/x', '/v2/links']) {
    const a = await call('GET', path);
    assert.equal(a.status, 404, path);
    assert.equal(errorOf(a).code, 'STRAIT_HTTP_NOT_FOUND');
  }
  const cases: [string, string, string][] = [
    ['PUT', '/v1/links', 'GET, POST'],
    ['DELETE', '/v1/links', 'GET, POST'],
    ['POST', '/v1/links/east', 'GET, DELETE'],
    ['GET', '/v1/links/east/pause', 'POST'],
    ['GET', '/v1/links/east/promote', 'POST'],
    ['POST', '/metrics', 'GET'],
    ['POST', '/v1/health', 'GET'],
  ];
  for (const [method, path, allow] of cases) {
    const a = await call(method, path);
    assert.equal(a.status, 405, `${method} ${path}`);
    assert.equal(a.headers.get('allow'), allow);
    assert.equal(errorOf(a).code, 'STRAIT_HTTP_METHOD_NOT_ALLOWED');
  }
  // A trailing slash is the same route; link names are percent-decoded.
  assert.equal((await call('GET', '/v1/links/')).status, 200);
  await call('POST', '/v1/links', { name: 'a.b-c_d', bootstrap: 'k:9092' });
  assert.equal((await call('GET', '/v1/links/a%2Eb-c_d')).status, 200);
  const bad = await call('GET', '/v1/links/%E0%A4%A');
  assert.equal(bad.status, 400);
  assert.equal(errorOf(bad).code, 'STRAIT_HTTP_BAD_REQUEST');
});

interface ParsedMetric {
  help: string;
  type: string;
  samples: { labels: Record<string, string>; value: number }[];
}

/** A strict reader of the text format: HELP and TYPE once per name, before its samples, which are contiguous. */
function parsePrometheus(text: string): Map<string, ParsedMetric> {
  const out = new Map<string, ParsedMetric>();
  let current: string | null = null;
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      assert.ok(!out.has(help[1]!), `one HELP for ${help[1]}`);
      out.set(help[1]!, { help: help[2]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'), type: '', samples: [] });
      current = help[1]!;
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      assert.equal(type[1], current, 'TYPE follows its HELP');
      out.get(current!)!.type = type[2]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${JSON.stringify(line)}`);
    assert.equal(sample[1], current, `sample of ${sample[1]} under its own HELP/TYPE`);
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
    const body = sample[2] ?? '';
    while (labelRe.lastIndex < body.length) {
      const m = labelRe.exec(body);
      assert.ok(m, `labels parse: ${body}`);
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = sample[3]!;
    out.get(current!)!.samples.push({ labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return out;
}

test('GET /metrics: the link samples grouped by name, label values escaped, plus process metrics', async () => {
  await call('POST', '/v1/links', spec);
  await call('POST', '/v1/links', { ...spec, name: 'west' });
  await call('POST', '/v1/links/east/mirrors', { topic: 'orders' });
  await call('POST', '/v1/links/west/mirrors', { topic: 'payments' });
  await call('POST', '/v1/links/west/pause');
  links.extraMetrics = [
    { name: 'strait_link_source_errors_total', help: 'Errors from the source,\nby "kind" \\ cause.', type: 'counter', labels: { link: 'east', error: 'said "no"\\ then\nhung up' }, value: 3 },
    { name: 'strait_link_fetch_bytes', help: 'h', type: 'gauge', labels: {}, value: Infinity },
  ];
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  assert.match(text, /strait_link_source_errors_total\{link="east",error="said \\"no\\"\\\\ then\\nhung up"\} 3\n/);
  const metrics = parsePrometheus(text);

  const lag = metrics.get('strait_link_mirror_lag_records')!;
  assert.equal(lag.type, 'gauge');
  assert.deepEqual(
    lag.samples.map((s) => [s.labels.link, s.labels.topic, s.labels.partition, s.value]),
    [['east', 'orders', '0', 0], ['east', 'orders', '1', 5], ['west', 'payments', '0', 0], ['west', 'payments', '1', 5]],
  );
  assert.deepEqual(metrics.get('strait_link_active')!.samples.map((s) => [s.labels.link, s.value]), [['east', 1], ['west', 0]]);
  const errors = metrics.get('strait_link_source_errors_total')!;
  assert.equal(errors.type, 'counter');
  assert.equal(errors.help, 'Errors from the source,\nby "kind" \\ cause.');
  assert.deepEqual(errors.samples, [{ labels: { link: 'east', error: 'said "no"\\ then\nhung up' }, value: 3 }]);
  assert.equal(metrics.get('strait_link_fetch_bytes')!.samples[0]!.value, Infinity);

  const one = (name: string) => {
    const m = metrics.get(name);
    assert.ok(m, `${name} is exported`);
    assert.equal(m.samples.length, 1);
    return { type: m.type, value: m.samples[0]!.value };
  };
  const rss = one('process_resident_memory_bytes');
  assert.equal(rss.type, 'gauge');
  assert.ok(rss.value > 10 * 1024 * 1024 && rss.value < 16 * 1024 ** 3, `rss ${rss.value}`);
  const heap = one('nodejs_heap_used_bytes');
  assert.ok(heap.value > 1024 * 1024 && heap.value < rss.value, `heap ${heap.value}`);
  const cpu = one('process_cpu_seconds_total');
  assert.equal(cpu.type, 'counter');
  assert.ok(cpu.value > 0 && cpu.value < process.uptime() * 64, `cpu ${cpu.value}`);
  const start = one('process_start_time_seconds');
  assert.ok(Math.abs(start.value - (Date.now() / 1000 - process.uptime())) < 5, `start ${start.value}`);
});

test('formatPrometheus refuses names a scraper would reject, and one name with two types', () => {
  assert.throws(() => formatPrometheus([{ name: 'bad-name', help: '', type: 'gauge', labels: {}, value: 1 }]), /not a Prometheus name/);
  assert.throws(() => formatPrometheus([{ name: 'ok', help: '', type: 'gauge', labels: { 'bad-label': 'x' }, value: 1 }]), /not a Prometheus label name/);
  assert.throws(
    () => formatPrometheus([{ name: 'm', help: '', type: 'gauge', labels: {}, value: 1 }, { name: 'm', help: '', type: 'counter', labels: { a: 'b' }, value: 1 }]),
    /both a gauge and a counter/,
  );
  assert.equal(formatPrometheus([{ name: 'm', help: 'h', type: 'gauge', labels: {}, value: Number.NaN }]), '# HELP m h\n# TYPE m gauge\nm NaN\n');
});

test('a taken port fails with STRAIT_HTTP_LISTEN_FAILED naming the setting; close() frees the port', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  await assert.rejects(
    startHttpServer({ host: '127.0.0.1', port, links, log: createLogger('error', {}, () => {}), brokerInfo: () => ({}) }),
    (err: unknown) => err instanceof StraitError && err.code === 'STRAIT_HTTP_LISTEN_FAILED' && /127\.0\.0\.1:\d+ for the HTTP admin API \(http\.listener\): .*EADDRINUSE/.test(err.message),
  );
  await new Promise<void>((resolve) => blocker.close(() => resolve()));

  const second = await startHttpServer({ host: '127.0.0.1', port, links, log: createLogger('error', {}, () => {}), brokerInfo: () => ({}) });
  assert.equal(second.port, port);
  // An idle keep-alive connection must not hold close() up.
  assert.equal((await fetch(`${second.url}/v1/health`)).status, 200);
  await second.close();
  await assert.rejects(fetch(`${second.url}/v1/health`));
});
