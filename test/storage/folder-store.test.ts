// The folder engine: the shared contract, then what only a folder has (the file layout, key
// checks that keep it inside its root, temporary files) and the layer's settings validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createObjectStore,
  FolderStore,
  ObjectExistsError,
  ObjectKeyInvalidError,
  S3Store,
  type ObjectStoreSettings,
} from '../../src/storage/objects/index.ts';
import { objectStoreContract } from './object-store-contract.ts';

function tempDir(): { dir: string; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'strait-folder-store-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file and directory under dir, as '/'-joined relative paths (directories end in '/'). */
function tree(dir: string, base = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = base === '' ? entry.name : `${base}/${entry.name}`;
    if (entry.isDirectory()) out.push(`${rel}/`, ...tree(join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

objectStoreContract('folder', async () => {
  const { dir, cleanup } = tempDir();
  return { store: await FolderStore.open(join(dir, 'objects')), cleanup };
});

test('folder: keys map to files and subdirectories under the root, and nothing else is left', async () => {
  const { dir, cleanup } = tempDir();
  const root = join(dir, 'objects');
  const store = await FolderStore.open(root);
  try {
    await store.put('wal/0001/segment', Buffer.from('abc'));
    await store.put('top', [Buffer.from('x'), Buffer.from('y')], { ifNoneMatch: true });
    await assert.rejects(store.put('top', Buffer.from('z'), { ifNoneMatch: true }), ObjectExistsError);
    assert.equal(readFileSync(join(root, 'wal', '0001', 'segment'), 'utf8'), 'abc');
    assert.equal(readFileSync(join(root, 'top'), 'utf8'), 'xy');
    assert.deepEqual(tree(root), ['top', 'wal/', 'wal/0001/', 'wal/0001/segment'], 'no temporary file is left behind');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('folder: keys that could escape the root or clash with its files are refused', async () => {
  const { dir, cleanup } = tempDir();
  const root = join(dir, 'objects');
  const store = await FolderStore.open(root);
  try {
    const bad = ['..', '../escape', 'a/../../escape', 'a/..', '/etc/passwd', '/abs', './a', 'a/./b', 'a//b', 'a/', 'nul\0byte', '.strait-tmp-1-x', 'a/.strait-tmp-2', 'p'.repeat(256)];
    for (const key of bad) {
      await assert.rejects(store.put(key, Buffer.from('x')), ObjectKeyInvalidError, `put ${JSON.stringify(key)}`);
      await assert.rejects(store.get(key), ObjectKeyInvalidError, `get ${JSON.stringify(key)}`);
      await assert.rejects(store.head(key), ObjectKeyInvalidError, `head ${JSON.stringify(key)}`);
      await assert.rejects(store.delete(key), ObjectKeyInvalidError, `delete ${JSON.stringify(key)}`);
    }
    assert.deepEqual(readdirSync(dir), ['objects'], 'nothing was written beside the root');
    assert.deepEqual(tree(root), []);
    assert.deepEqual(await store.list('../'), [], 'a prefix cannot walk out of the root either');
    assert.deepEqual(await store.list('/'), []);
    // A 255-byte part is the longest a file name may be, so it is allowed.
    await store.put('p'.repeat(255), Buffer.from('ok'));
  } finally {
    await store.close();
    await cleanup();
  }
});

test('folder: "a" and "a/b" cannot both be objects; the error says why', async () => {
  const { dir, cleanup } = tempDir();
  const store = await FolderStore.open(dir);
  try {
    await store.put('a', Buffer.from('file'));
    await assert.rejects(store.put('a/b', Buffer.from('x')), (error: unknown) => {
      assert.ok(error instanceof ObjectKeyInvalidError);
      assert.equal(error.code, 'STRAIT_OBJECT_KEY_INVALID');
      assert.match(error.message, /"a\/b"/);
      return true;
    });
    await store.put('c/d', Buffer.from('x'));
    await assert.rejects(store.put('c', Buffer.from('x')), ObjectKeyInvalidError);
    await assert.rejects(store.put('c', Buffer.from('x'), { ifNoneMatch: true }), ObjectKeyInvalidError);
    assert.equal((await store.get('a')).toString(), 'file');
    assert.deepEqual((await store.list('')).map((info) => info.key), ['a', 'c/d']);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('folder: deleting the last object of a directory removes the empty directories, not the root', async () => {
  const { dir, cleanup } = tempDir();
  const root = join(dir, 'objects');
  const store = await FolderStore.open(root);
  try {
    await store.put('t/0/a', Buffer.from('1'));
    await store.put('t/0/b', Buffer.from('2'));
    await store.put('t/1/a', Buffer.from('3'));
    await store.delete('t/0/a');
    assert.deepEqual(tree(root), ['t/', 't/0/', 't/0/b', 't/1/', 't/1/a']);
    await store.delete('t/0/b');
    assert.deepEqual(tree(root), ['t/', 't/1/', 't/1/a']);
    await store.delete('t/1/a');
    assert.deepEqual(tree(root), []);
    assert.ok(existsSync(root), 'the root stays');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('folder: opening removes temporary files of dead writers and keeps those of live ones', async () => {
  const { dir, cleanup } = tempDir();
  const root = join(dir, 'objects');
  mkdirSync(join(root, 'sub'), { recursive: true });
  // PIDs are below 2^22 on Linux, so 999999999 never runs.
  writeFileSync(join(root, 'sub', '.strait-tmp-999999999-0011223344556677'), 'half-written');
  writeFileSync(join(root, '.strait-tmp-999999999-8899aabbccddeeff'), 'half-written');
  const liveTemp = `.strait-tmp-${process.pid}-0123456789abcdef`;
  writeFileSync(join(root, 'sub', liveTemp), 'being written');
  writeFileSync(join(root, 'sub', 'object'), 'kept');
  const store = await FolderStore.open(root);
  try {
    assert.deepEqual(tree(root), ['sub/', `sub/${liveTemp}`, 'sub/object']);
    assert.deepEqual(await store.list(''), [{ key: 'sub/object', sizeBytes: 4 }], 'list never shows temporary files');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('folder: objects survive closing and reopening the store', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await FolderStore.open(dir);
    await first.put('kept/one', Buffer.from('1'), { ifNoneMatch: true });
    await first.close();
    await assert.rejects(first.get('kept/one'), /used after close/);
    const second = await FolderStore.open(dir);
    assert.equal((await second.get('kept/one')).toString(), '1');
    await assert.rejects(second.put('kept/one', Buffer.from('2'), { ifNoneMatch: true }), ObjectExistsError);
    await second.close();
  } finally {
    await cleanup();
  }
});

test('createObjectStore opens the engine the settings name', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const folder = await createObjectStore({ engine: 'folder', path: join(dir, 'made') });
    assert.ok(folder instanceof FolderStore);
    assert.equal(folder.kind, 'folder');
    await folder.put('k', Buffer.from('v'));
    assert.equal(readFileSync(join(dir, 'made', 'k'), 'utf8'), 'v');
    await folder.close();
    const s3 = await createObjectStore({
      engine: 's3',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'strait-data',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      prefix: 'cluster-a/',
      pathStyle: true,
    });
    assert.ok(s3 instanceof S3Store);
    assert.equal(s3.kind, 's3');
    await s3.close();
    // Without an endpoint (AWS S3 by region) and without static keys (the AWS credential chain).
    const aws = await createObjectStore({ engine: 's3', region: 'eu-west-1', bucket: 'strait-data' });
    assert.ok(aws instanceof S3Store);
    assert.match((aws as S3Store).describe(), /AWS S3 eu-west-1 bucket strait-data/);
    await aws.close();
  } finally {
    await cleanup();
  }
});

test('createObjectStore refuses wrong settings with STRAIT_CONFIG_INVALID and a message per problem', async () => {
  const s3 = { engine: 's3', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'strait', accessKeyId: 'id', secretAccessKey: 'secret' };
  const cases: [settings: unknown, expected: RegExp[]][] = [
    [null, [/expected an object/]],
    ['folder', [/expected an object/]],
    [{}, [/engine must be 'folder' or 's3', got nothing/]],
    [{ engine: 'gcs' }, [/engine must be 'folder' or 's3', got "gcs"/]],
    [{ engine: 'folder' }, [/path is required for the folder engine/]],
    [{ engine: 'folder', path: '' }, [/path must not be empty/]],
    [{ engine: 'folder', path: 7 }, [/path must be a string, got number 7/]],
    [{ engine: 'folder', path: '/x', bucket: 'b' }, [/bucket is not a setting of the folder engine/]],
    // Endpoint (AWS S3 by region) and static keys (the AWS credential chain) may be left out.
    [{ engine: 's3' }, [/region is required/, /bucket is required/]],
    [{ ...s3, secretAccessKey: undefined }, [/accessKeyId and secretAccessKey go together/]],
    [{ ...s3, accessKeyId: undefined }, [/accessKeyId and secretAccessKey go together/]],
    [{ ...s3, accessKeyId: undefined, secretAccessKey: undefined, sessionToken: 'token' }, [/sessionToken needs accessKeyId and secretAccessKey/]],
    [{ ...s3, endpoint: 'localhost:9000' }, [/endpoint "localhost:9000" must start with http:\/\/ or https:\/\//]],
    [{ ...s3, endpoint: 'not a url' }, [/endpoint "not a url" is not a URL/]],
    [{ ...s3, endpoint: 'http://127.0.0.1:9000/bucket' }, [/must be scheme:\/\/host\[:port\] only/]],
    [{ ...s3, bucket: 'Bad_Bucket' }, [/bucket "Bad_Bucket" is not a valid bucket name/]],
    [{ ...s3, pathStyle: 'yes' }, [/pathStyle must be true or false, got "yes"/]],
    [{ ...s3, prefix: '/abs/' }, [/prefix "\/abs\/" must not start with '\/'/]],
    [{ ...s3, secretAccessKey: 12345678 }, [/secretAccessKey must be a string, got a number$/m]],
    [{ ...s3, acessKeyId: 'typo' }, [/acessKeyId is not a setting of the s3 engine/]],
  ];
  for (const [settings, expected] of cases) {
    await assert.rejects(createObjectStore(settings as ObjectStoreSettings), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'STRAIT_CONFIG_INVALID', JSON.stringify(settings));
      const message = (error as Error).message;
      for (const pattern of expected) assert.match(message, pattern, JSON.stringify(settings));
      assert.doesNotMatch(message, /12345678/, 'a secret is never printed');
      return true;
    });
  }
});
