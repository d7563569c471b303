// Kafka Streams 4.3.1 with processing.guarantee=exactly_once_v2 on Strait: a word count
// (test/java/src/main/java/io/strait/test/WordCount.java) reads an input topic filled with a known
// text and writes word -> count to an output topic, committing every 100 ms (transactions with
// offsets, a repartition topic and a changelog topic that Streams creates itself with replication
// factor 1, state in a temporary folder). The output read with isolation.level=read_committed must
// hold, as each word's latest count, exactly the number of times the word occurs in the text, and no
// count may ever have gone past that. Needs scripts/install-test-deps.sh (Kafka's jars, kcat, a JDK).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKcat, startStrait, type StraitHandle } from './harness.ts';
import { compileJavaProgram, runJavaProgram } from './java-program.ts';
import { createTopic } from '../faults/crash-produce.ts';

const vocabulary = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike'];

/** Lines of 1..8 words; word i of line n is chosen so that the counts differ between words. */
function text(lines: number): string[] {
  const out: string[] = [];
  for (let n = 0; n < lines; n++) {
    const words: string[] = [];
    for (let i = 0; i <= n % 8; i++) words.push(vocabulary[(n * 7 + i * i * 3 + (n >> 3)) % vocabulary.length]!);
    out.push(n % 5 === 0 ? words.map((w) => w.toUpperCase()).join(', ') : words.join(' '));
  }
  return out;
}

test('Kafka Streams exactly_once_v2 word count: read_committed output holds the exact counts', { timeout: 150_000 }, async (t) => {
  const compiling = compileJavaProgram('WordCount');
  const broker: StraitHandle = await startStrait();
  const stateDir = mkdtempSync(join(tmpdir(), 'strait-streams-'));
  try {
    const lines = text(3000);
    const expected: Record<string, number> = {};
    for (const line of lines) for (const w of line.toLowerCase().split(/\W+/)) if (w !== '') expected[w] = (expected[w] ?? 0) + 1;
    const totalWords = Object.values(expected).reduce((a, b) => a + b, 0);
    await createTopic(broker.port, 'wc-input', 3);
    await createTopic(broker.port, 'wc-output', 3);
    const produced = await runKcat(['-P', '-b', broker.bootstrap, '-t', 'wc-input', '-X', 'acks=all'], { input: `${lines.join('\n')}\n`, timeoutMs: 60_000 });
    assert.equal(produced.code, 0, `kcat produce: ${produced.stderr}`);
    await compiling;

    const started = Date.now();
    const r = await runJavaProgram('WordCount', [broker.bootstrap, 'wc-input', 'wc-output', 'strait-wordcount', stateDir, '100', String(totalWords), '90000'], { timeoutMs: 120_000 });
    const last = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    const detail = `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-6000)}\n--- Strait's last output:\n${broker.output().slice(-4000)}`;
    assert.ok(last !== undefined, `WordCount printed no summary\n${detail}`);
    const summary = JSON.parse(last) as { counts: Record<string, number>; records: number; overshoot: string[]; reached: boolean; streamsState: string; error: string | null };
    t.diagnostic(`${totalWords} words in ${lines.length} lines counted in ${Date.now() - started} ms; ${summary.records} committed output records; streams ${summary.streamsState}`);
    assert.equal(summary.error, null, `Streams failed\n${detail}`);
    assert.deepEqual(summary.counts, expected, `latest committed count per word\n${detail}`);
    assert.deepEqual(summary.overshoot, [], 'words whose committed count went past the final one');
    assert.equal(r.code, 0, detail);
  } finally {
    await broker.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
