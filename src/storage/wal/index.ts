// The WAL's surface: one contract (wal.ts) and its engines, segment files on local disk (the
// default) and objects plus metadata commits (wal.kind=object: no state on the broker).
export type { Wal, WalEntry, WalPosition, ReplayedEntry, WalStats } from './wal.ts';
export { WalWriteError } from './wal.ts';
export { FileWal } from './file-wal.ts';
export type { WalOptions } from './file-wal.ts';
export { ObjectWal } from './object-wal.ts';
export type { ObjectWalOptions } from './object-wal.ts';
