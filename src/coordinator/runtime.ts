// What the classic and consumer group state machines need from the coordinator around them.
import type { Logger } from '../common/logger.ts';
import type { TopicCatalog } from '../cluster/catalog.ts';
import type { GroupCoordinatorConfig } from './group-config.ts';
import type { KeyedTimers } from './timers.ts';
import type { ClassicGroup } from './classic-group.ts';
import type { ConsumerGroup } from './consumer-group.ts';

export type Group = ClassicGroup | ConsumerGroup;

export interface GroupRuntime {
  readonly config: GroupCoordinatorConfig;
  readonly log: Logger;
  readonly timers: KeyedTimers;
  readonly catalog: TopicCatalog;
  readonly groups: Map<string, Group>;
  now(): number;
  /** Runs fn later under the group's lock, as a request would (timer expirations use it). */
  runLocked(groupId: string, what: string, fn: () => void | Promise<void>): void;
  /** Writes the group's current state to the metadata store (a classic group with `assignment` in
   *  place of its members' current one). The state is captured at the call; writes happen in call order. */
  persist(group: Group, assignment?: Map<string, Buffer>): Promise<void>;
  /** Forgets a group (in memory and its timers) without touching its offsets. */
  dropGroup(group: Group): void;
}

/** Timer keys of a group all start with the group id and a separator, so they can be cancelled together. */
export function timerKey(groupId: string, kind: string, memberId = ''): string {
  return `${groupId}\u0000${kind}\u0000${memberId}`;
}

export function groupTimerPrefix(groupId: string): string {
  return `${groupId}\u0000`;
}
