// The contract every ObjectStore engine must pass, run against the real engine (a real folder, a
// real S3-compatible server). Engine-specific behaviour belongs in the engine's own test file.
//
// Ranged reads follow S3 (and MinIO, checked against it): a range [start, end) that reaches past the
// end of the object is cut at the end; one that starts at or beyond the end (which includes any
// range of an empty object) fails with ObjectRangeInvalidError, as S3 answers 416 InvalidRange; a
// range with end <= start, a negative start or a fraction is a bug in the caller (an assertion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  ObjectExistsError,
  ObjectKeyInvalidError,
  ObjectNotFoundError,
  ObjectRangeInvalidError,
  type ObjectStore,
} from '../../src/storage/objects/index.ts';

export interface ContractStore {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

/** Runs fn with a fresh, empty store, closing and cleaning it up afterwards even on failure. */
async function withStore(open: () => Promise<ContractStore>, fn: (store: ObjectStore) => Promise<void>): Promise<void> {
  const opened = await open();
  try {
    await fn(opened.store);
  } finally {
    await opened.store.close();
    await opened.cleanup();
  }
}

/** Bytes whose every position is distinguishable, so an off-by-one range shows. */
function pattern(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

function sha256(buffer: Buffer): string {
  return createHash('sha256').update(buffer).digest('hex');
}

/** Runs tasks with at most `width` in flight. */
async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

export function objectStoreContract(engine: string, open: () => Promise<ContractStore>): void {
  const t = (name: string, fn: (store: ObjectStore) => Promise<void>, options: { timeout?: number } = {}): void => {
    test(`${engine}: ${name}`, { timeout: options.timeout ?? 60_000 }, () => withStore(open, fn));
  };

  t('put then get returns the same bytes; a second put replaces them', async (store) => {
    const first = randomBytes(1024);
    await store.put('round-trip', first);
    assert.deepEqual(await store.get('round-trip'), first);
    const second = randomBytes(10);
    await store.put('round-trip', second);
    assert.deepEqual(await store.get('round-trip'), second, 'an unconditional put overwrites');
    assert.deepEqual(await store.head('round-trip'), { key: 'round-trip', sizeBytes: 10 });
  });

  t('a body given as a list of buffers is stored as their concatenation, without joining them in memory', async (store) => {
    const parts = [randomBytes(3), Buffer.alloc(0), randomBytes(1), randomBytes(4096)];
    await store.put('parts', parts);
    assert.deepEqual(await store.get('parts'), Buffer.concat(parts));
    // More buffers than one writev(2) takes (IOV_MAX is 1024 on Linux).
    const many = Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i},`));
    await store.put('many-parts', many);
    assert.equal((await store.get('many-parts')).toString(), many.map((b) => b.toString()).join(''));
    // Two 2 MiB halves: no Buffer.concat of 1 MiB or more may happen while they are written.
    const halves = [randomBytes(2 << 20), randomBytes(2 << 20)];
    const originalConcat = Buffer.concat;
    const bigConcats: number[] = [];
    Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
      const joined = originalConcat(list, totalLength);
      if (joined.length >= 1 << 20) bigConcats.push(joined.length);
      return joined;
    }) as typeof Buffer.concat;
    try {
      await store.put('halves', halves);
    } finally {
      Buffer.concat = originalConcat;
    }
    assert.deepEqual(bigConcats, [], 'the body was joined into one buffer');
    assert.equal(sha256(await store.get('halves')), sha256(originalConcat(halves)));
  });

  t('ranged reads return bytes [start, end), cut at the end of the object like S3', async (store) => {
    const body = pattern(1000);
    await store.put('ranged', body);
    const cases: [start: number, end: number, expected: Buffer][] = [
      [0, 1, body.subarray(0, 1)],
      [0, 1000, body],
      [10, 20, body.subarray(10, 20)],
      [999, 1000, body.subarray(999)],
      [500, 1001, body.subarray(500)],
      [990, 2000, body.subarray(990)],
      [0, Number.MAX_SAFE_INTEGER, body],
    ];
    for (const [start, end, expected] of cases) {
      const got = await store.get('ranged', { start, end });
      assert.deepEqual(got, expected, `range [${start}, ${end})`);
    }
  });

  t('a range starting at or beyond the end fails with ObjectRangeInvalidError, as S3 answers 416', async (store) => {
    await store.put('ranged', pattern(100));
    await store.put('empty', Buffer.alloc(0));
    for (const [key, start, end] of [['ranged', 100, 101], ['ranged', 100, 200], ['ranged', 5000, 6000], ['empty', 0, 1]] as const) {
      await assert.rejects(store.get(key, { start, end }), ObjectRangeInvalidError, `${key} [${start}, ${end})`);
    }
    await assert.rejects(store.get('missing', { start: 0, end: 10 }), ObjectNotFoundError, 'a missing object is not found, whatever the range');
  });

  t('a range with end <= start, a negative start or a fraction is a caller bug (assertion)', async (store) => {
    await store.put('ranged', pattern(100));
    for (const [start, end] of [[5, 5], [6, 5], [-1, 5], [0.5, 3], [0, Number.NaN]]) {
      await assert.rejects(store.get('ranged', { start: start as number, end: end as number }), /assertion failed: an object range/, `[${start}, ${end})`);
    }
  });

  t('head gives the size of an object, or null', async (store) => {
    await store.put('sized', pattern(321));
    await store.put('dir/inside', pattern(1));
    assert.deepEqual(await store.head('sized'), { key: 'sized', sizeBytes: 321 });
    assert.equal(await store.head('missing'), null);
    assert.equal(await store.head('dir'), null, 'a prefix of other keys is no object');
    assert.equal(await store.head('dir/inside/below'), null);
  });

  t('list returns the objects under a prefix, in UTF-8 byte order, with sizes', async (store) => {
    const keys = ['a/1', 'a/2', 'a/b/3', 'a/bc', 'ab', 'a-x', 'b', 'u/\uFFFD', 'u/\u{1F600}', 'u/z'];
    await Promise.all(keys.map((key, i) => store.put(key, pattern(i))));
    const list = async (prefix: string): Promise<string[]> => (await store.list(prefix)).map((info) => info.key);
    // '-' (0x2d) sorts before '/' (0x2f) before 'b'; U+FFFD (EF BF BD) before U+1F600 (F0 9F 98 80),
    // the other way round from JavaScript's UTF-16 order (FFFD after D83D).
    assert.deepEqual(await list(''), ['a-x', 'a/1', 'a/2', 'a/b/3', 'a/bc', 'ab', 'b', 'u/z', 'u/\uFFFD', 'u/\u{1F600}']);
    assert.deepEqual(await list('a/'), ['a/1', 'a/2', 'a/b/3', 'a/bc']);
    assert.deepEqual(await list('a'), ['a-x', 'a/1', 'a/2', 'a/b/3', 'a/bc', 'ab']);
    assert.deepEqual(await list('a/b'), ['a/b/3', 'a/bc'], 'a prefix may end inside a key part');
    assert.deepEqual(await list('a/b/'), ['a/b/3']);
    assert.deepEqual(await list('u/'), ['u/z', 'u/\uFFFD', 'u/\u{1F600}']);
    assert.deepEqual(await list('zz'), []);
    assert.deepEqual(await list('a/1/'), [], 'nothing is below an object');
    assert.deepEqual(await store.list('a/b/'), [{ key: 'a/b/3', sizeBytes: keys.indexOf('a/b/3') }]);
  });

  t('list returns every key when there are more than 1000 (S3 pages its answers)', async (store) => {
    const keys = Array.from({ length: 1100 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
    await store.put('many-before', Buffer.from('x'));
    await store.put('mb', Buffer.from('x'));
    await inParallel(keys, 32, (key) => store.put(key, Buffer.from(key)));
    const listed = await store.list('many/');
    assert.equal(listed.length, 1100);
    assert.deepEqual(listed.map((info) => info.key), keys);
    assert.ok(listed.every((info) => info.sizeBytes === info.key.length), 'sizes');
    const all = await store.list('');
    assert.equal(all.length, 1102);
    assert.deepEqual(all.slice(-2).map((info) => info.key), ['many/k01099', 'mb']);
    assert.deepEqual((await store.list('many/k010')).map((info) => info.key), keys.slice(1000, 1100));
  }, { timeout: 120_000 });

  t('delete removes an object; deleting a missing one is not an error', async (store) => {
    await store.put('doomed', pattern(10));
    await store.put('kept', pattern(10));
    await store.delete('doomed');
    assert.equal(await store.head('doomed'), null);
    await assert.rejects(store.get('doomed'), ObjectNotFoundError);
    await store.delete('doomed');
    await store.delete('never-was');
    await store.delete('nested/never/was');
    assert.deepEqual((await store.list('')).map((info) => info.key), ['kept']);
    await store.put('doomed', pattern(3));
    assert.equal((await store.head('doomed'))?.sizeBytes, 3, 'a deleted key can be written again');
  });

  t('a put racing a delete of the last other object under its prefix still lands', async (store) => {
    // In a folder the delete removes the emptied directory the put is about to write into.
    for (let round = 0; round < 150; round++) {
      await store.put(`d/${round}/old`, Buffer.from('old'));
      const [deleted, written] = await Promise.allSettled([store.delete(`d/${round}/old`), store.put(`d/${round}/new`, Buffer.from('new'))]);
      assert.equal(deleted.status, 'fulfilled', `round ${round}: ${deleted.status === 'rejected' ? String(deleted.reason) : ''}`);
      assert.equal(written.status, 'fulfilled', `round ${round}: ${written.status === 'rejected' ? String(written.reason) : ''}`);
    }
    const keys = (await store.list('d/')).map((info) => info.key);
    assert.equal(keys.length, 150);
    assert.ok(keys.every((key) => key.endsWith('/new')));
  });

  t('a conditional put creates an object once; later ones fail with ObjectExistsError', async (store) => {
    const first = Buffer.from('first');
    await store.put('once', first, { ifNoneMatch: true });
    await assert.rejects(store.put('once', Buffer.from('second'), { ifNoneMatch: true }), ObjectExistsError);
    await assert.rejects(store.put('once', [Buffer.from('sec'), Buffer.from('ond')], { ifNoneMatch: true }), (error: unknown) => {
      assert.ok(error instanceof ObjectExistsError);
      assert.equal(error.code, 'STRAIT_OBJECT_EXISTS');
      return true;
    });
    assert.deepEqual(await store.get('once'), first, 'the failed puts left the object alone');
    assert.deepEqual((await store.list('')).map((info) => info.key), ['once'], 'and left nothing behind');
    await store.delete('once');
    await store.put('once', Buffer.from('again'), { ifNoneMatch: true });
    assert.equal((await store.get('once')).toString(), 'again', 'after a delete the key can be created again');
  });

  t('of several racing conditional puts exactly one wins, and its bytes are stored', async (store) => {
    const writers = 8;
    for (let round = 0; round < 10; round++) {
      const key = `race/${round}`;
      const bodies = Array.from({ length: writers }, (_, w) => Buffer.from(`round ${round} writer ${w} `.repeat(100 + w)));
      const results = await Promise.allSettled(bodies.map((body) => store.put(key, body, { ifNoneMatch: true })));
      const winners = results.flatMap((r, w) => (r.status === 'fulfilled' ? [w] : []));
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof ObjectExistsError, `round ${round}: ${String(r.reason)}`);
      }
      assert.deepEqual(await store.get(key), bodies[winners[0] as number]);
    }
  });

  t('a missing object is ObjectNotFoundError on get, null on head', async (store) => {
    await assert.rejects(store.get('nothing/here'), (error: unknown) => {
      assert.ok(error instanceof ObjectNotFoundError);
      assert.equal(error.code, 'STRAIT_OBJECT_NOT_FOUND');
      assert.match(error.message, /nothing\/here/);
      return true;
    });
    assert.equal(await store.head('nothing/here'), null);
  });

  t('keys with slashes and unusual characters round-trip and list exactly', async (store) => {
    const keys = ['x/y/z/deep.obj', 'sp ace/plus+sign', 'amp&lt;/percent%20', 'ünï/cödé/日本', "q'uote(s)*!~", 'tab\there'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    for (const key of keys) assert.equal((await store.get(key)).toString(), key, key);
    assert.deepEqual((await store.list('')).map((info) => info.key), [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.deepEqual((await store.list('x/y/')).map((info) => info.key), ['x/y/z/deep.obj']);
    assert.equal(await store.head('x/y'), null);
    await store.delete('x/y/z/deep.obj');
    assert.deepEqual(await store.list('x/'), []);
  });

  t('empty objects are objects', async (store) => {
    await store.put('empty-buffer', Buffer.alloc(0));
    await store.put('empty-list', []);
    await store.put('empty-cond', Buffer.alloc(0), { ifNoneMatch: true });
    for (const key of ['empty-buffer', 'empty-list', 'empty-cond']) {
      assert.equal((await store.get(key)).length, 0);
      assert.deepEqual(await store.head(key), { key, sizeBytes: 0 });
    }
    assert.deepEqual(await store.list('empty-'), [
      { key: 'empty-buffer', sizeBytes: 0 },
      { key: 'empty-cond', sizeBytes: 0 },
      { key: 'empty-list', sizeBytes: 0 },
    ]);
    await assert.rejects(store.put('empty-cond', Buffer.alloc(0), { ifNoneMatch: true }), ObjectExistsError);
  });

  t('a 20 MiB object round-trips whole and by range', async (store) => {
    const chunks = Array.from({ length: 5 }, () => randomBytes(4 << 20));
    const whole = Buffer.concat(chunks);
    await store.put('big', chunks);
    assert.deepEqual(await store.head('big'), { key: 'big', sizeBytes: 20 << 20 });
    const got = await store.get('big');
    assert.equal(got.length, 20 << 20);
    assert.equal(sha256(got), sha256(whole));
    // Across the boundary between the second and third chunk.
    const start = (8 << 20) - 12345;
    const end = (8 << 20) + 54321;
    assert.deepEqual(await store.get('big', { start, end }), whole.subarray(start, end));
    assert.deepEqual(await store.get('big', { start: (20 << 20) - 7, end: 30 << 20 }), whole.subarray((20 << 20) - 7));
  }, { timeout: 120_000 });

  t('an empty key is refused with ObjectKeyInvalidError', async (store) => {
    await assert.rejects(store.put('', Buffer.from('x')), ObjectKeyInvalidError);
    await assert.rejects(store.get(''), ObjectKeyInvalidError);
    await assert.rejects(store.put('\uD800', Buffer.from('x')), ObjectKeyInvalidError, 'a lone surrogate has no UTF-8 form');
    await assert.rejects(store.put('k'.repeat(1025), Buffer.from('x')), ObjectKeyInvalidError, 'S3 keys are at most 1024 bytes');
    assert.deepEqual(await store.list(''), []);
  });
}
