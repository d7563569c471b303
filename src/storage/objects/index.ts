// The object storage layer's surface: one ObjectStore contract and its engines, a local folder
// (the default, for a single node) and any S3-compatible service (for several brokers, or to keep
// a node's data off its disk). createObjectStore() turns plain settings into an open store.
import { StraitError } from '../../common/errors.ts';
import { FolderStore } from './folder-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3Store } from './s3-store.ts';

export type { ObjectInfo, ObjectStore } from './object-store.ts';
export {
  ObjectExistsError,
  ObjectKeyInvalidError,
  ObjectNotFoundError,
  ObjectRangeInvalidError,
  ObjectStoreUnavailableError,
} from './object-store.ts';
export { FolderStore, openFolderStore } from './folder-store.ts';
export { ObjectStoreAccessDeniedError, ObjectStoreCredentialsError, ObjectStoreRequestError, S3Store, type S3StoreOptions } from './s3-store.ts';

export interface FolderStoreSettings {
  engine: 'folder';
  path: string;
}

export interface S3StoreSettings {
  engine: 's3';
  /** Unset for AWS S3 itself (the SDK picks the region's endpoint). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Static keys, both or neither; without them credentials come from the AWS chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** The shared config/credentials profile the chain reads. */
  profile?: string;
  prefix?: string;
  pathStyle?: boolean;
}

export type ObjectStoreSettings = FolderStoreSettings | S3StoreSettings;

const folderFields = { engine: 'required', path: 'required' } as const;
const s3Fields = {
  engine: 'required',
  endpoint: 'optional',
  region: 'required',
  bucket: 'required',
  accessKeyId: 'optional',
  secretAccessKey: 'optional',
  sessionToken: 'optional',
  profile: 'optional',
  prefix: 'optional',
  pathStyle: 'optional',
} as const;

const secretFields = new Set(['secretAccessKey', 'sessionToken']);

/** Opens the object store the settings describe; throws STRAIT_CONFIG_INVALID naming every problem. */
export async function createObjectStore(settings: ObjectStoreSettings): Promise<ObjectStore> {
  const checked = checkObjectStoreSettings(settings);
  if (checked.engine === 'folder') return FolderStore.open(checked.path);
  return new S3Store(checked);
}

/** Validates settings that may come straight from a config file; returns them typed. */
export function checkObjectStoreSettings(settings: unknown): ObjectStoreSettings {
  const fail = (problems: string[]): never => {
    throw new StraitError('STRAIT_CONFIG_INVALID', `invalid object store settings:\n  ${problems.join('\n  ')}`);
  };
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    return fail([`expected an object like { engine: 'folder', path } or { engine: 's3', endpoint, region, bucket, … }, got ${describe(settings)}`]);
  }
  const values = settings as Record<string, unknown>;
  const engine = values['engine'];
  if (engine !== 'folder' && engine !== 's3') return fail([`engine must be 'folder' or 's3', got ${describe(engine)}`]);
  const fields: Record<string, 'required' | 'optional'> = engine === 'folder' ? folderFields : s3Fields;
  const problems: string[] = [];
  for (const name of Object.keys(values)) {
    if (!(name in fields)) problems.push(`${name} is not a setting of the ${engine} engine (it takes ${Object.keys(fields).join(', ')})`);
  }
  for (const [name, need] of Object.entries(fields)) {
    const value = values[name];
    if (value === undefined) {
      if (need === 'required') problems.push(`${name} is required for the ${engine} engine`);
      continue;
    }
    if (name === 'pathStyle') {
      if (typeof value !== 'boolean') problems.push(`pathStyle must be true or false, got ${describe(value)}`);
    } else if (typeof value !== 'string') {
      // Never print a secret, even a mistyped one.
      const got = secretFields.has(name) ? `a ${Array.isArray(value) ? 'list' : typeof value}` : describe(value);
      problems.push(`${name} must be a string, got ${got}`);
    } else if (value === '' && need === 'required') {
      problems.push(`${name} must not be empty`);
    }
  }
  if (engine === 's3') problems.push(...checkS3Values(values));
  if (problems.length > 0) return fail(problems);
  return values as unknown as ObjectStoreSettings;
}

function checkS3Values(values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { endpoint, bucket, prefix, accessKeyId, secretAccessKey, sessionToken } = values;
  const given = (value: unknown): boolean => typeof value === 'string' && value !== '';
  if (given(accessKeyId) !== given(secretAccessKey)) {
    problems.push('accessKeyId and secretAccessKey go together: give both, or neither to take credentials from the AWS chain');
  }
  if (given(sessionToken) && !given(accessKeyId)) problems.push('sessionToken needs accessKeyId and secretAccessKey');
  if (typeof endpoint === 'string' && endpoint !== '') {
    let url: URL | null = null;
    try {
      url = new URL(endpoint);
    } catch {
      problems.push(`endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000)`);
    }
    if (url !== null && url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`endpoint ${JSON.stringify(endpoint)} must start with http:// or https://`);
    } else if (url !== null && (url.pathname.length > 1 || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')) {
      problems.push(`endpoint ${JSON.stringify(endpoint)} must be scheme://host[:port] only (put the bucket in bucket, a key prefix in prefix)`);
    }
  }
  // S3's bucket naming rules, which every compatible service accepts.
  if (typeof bucket === 'string' && bucket !== '' && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    problems.push(`bucket ${JSON.stringify(bucket)} is not a valid bucket name (3 to 63 lower-case letters, digits, '.' and '-')`);
  }
  if (typeof prefix === 'string' && prefix.startsWith('/')) {
    problems.push(`prefix ${JSON.stringify(prefix)} must not start with '/' (S3 keys are not paths)`);
  }
  return problems;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
