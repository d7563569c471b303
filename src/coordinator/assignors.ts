// Server-side partition assignors of consumer groups (KIP-848): `uniform` (balanced and sticky, the
// default) and `range` (contiguous ranges per topic, so co-partitioned topics line up). Both are
// deterministic: the same input always gives the same assignment.

/** topic id → partitions. */
export type Assignment = Map<string, Set<number>>;

export interface AssignmentSpec {
  /** member id → the topic ids it subscribes to (only topics that exist). */
  members: Map<string, Set<string>>;
  /** topic id → partition count. */
  topics: Map<string, number>;
  /** The previous target assignment, kept where still valid (stickiness). */
  previous: Map<string, Assignment>;
}

export type Assignor = (spec: AssignmentSpec) => Map<string, Assignment>;

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Partitions as "topicId:partition" keys, in a stable order. */
function partitionKey(topicId: string, p: number): string {
  return `${topicId}:${p}`;
}

/**
 * Uniform: every member ends with as many partitions as any other member that could take them
 * (counts differ by at most one when subscriptions are the same), and partitions stay with their
 * previous owner where that does not break the balance.
 */
export const uniformAssignor: Assignor = (spec) => {
  const memberIds = [...spec.members.keys()].sort(byId);
  const owned = new Map<string, string[]>(); // member → partition keys
  const claimed = new Set<string>();
  for (const m of memberIds) owned.set(m, []);

  // 1. Keep previous partitions that are still valid.
  for (const m of memberIds) {
    const subs = spec.members.get(m)!;
    const prev = spec.previous.get(m);
    if (!prev) continue;
    for (const [topicId, parts] of [...prev].sort(([a], [b]) => byId(a, b))) {
      const count = spec.topics.get(topicId);
      if (count === undefined || !subs.has(topicId)) continue;
      for (const p of [...parts].sort((a, b) => a - b)) {
        const key = partitionKey(topicId, p);
        if (p < count && !claimed.has(key)) {
          claimed.add(key);
          owned.get(m)!.push(key);
        }
      }
    }
  }

  // 2. Members subscribed to each topic.
  const subscribers = new Map<string, string[]>();
  for (const m of memberIds) {
    for (const t of spec.members.get(m)!) {
      if (!spec.topics.has(t)) continue;
      let list = subscribers.get(t);
      if (!list) subscribers.set(t, (list = []));
      list.push(m);
    }
  }

  // 3. Give every unclaimed partition to the least-loaded member that subscribes to its topic.
  for (const topicId of [...subscribers.keys()].sort(byId)) {
    const count = spec.topics.get(topicId)!;
    const candidates = subscribers.get(topicId)!;
    for (let p = 0; p < count; p++) {
      const key = partitionKey(topicId, p);
      if (claimed.has(key)) continue;
      let best = candidates[0]!;
      for (const c of candidates) if (owned.get(c)!.length < owned.get(best)!.length) best = c;
      owned.get(best)!.push(key);
      claimed.add(key);
    }
  }

  // 4. Balance: move partitions from the most loaded members to members with at least two fewer
  // that can take them. Each move lowers the spread, so this ends.
  const topicOf = (key: string) => key.slice(0, key.lastIndexOf(':'));
  for (let moves = 0; moves <= claimed.size; moves++) {
    const order = [...memberIds].sort((a, b) => owned.get(b)!.length - owned.get(a)!.length || byId(a, b));
    let moved = false;
    for (const from of order) {
      const list = owned.get(from)!;
      const takers = [...memberIds].sort((a, b) => owned.get(a)!.length - owned.get(b)!.length || byId(a, b));
      for (let i = list.length - 1; i >= 0 && !moved; i--) {
        const key = list[i]!;
        const topicId = topicOf(key);
        const to = takers.find((t) => owned.get(t)!.length + 1 < list.length && spec.members.get(t)!.has(topicId));
        if (to !== undefined) {
          list.splice(i, 1);
          owned.get(to)!.push(key);
          moved = true;
        }
      }
      if (moved) break;
    }
    if (!moved) break;
  }

  const out = new Map<string, Assignment>();
  for (const m of memberIds) {
    const a: Assignment = new Map();
    for (const key of owned.get(m)!) {
      const i = key.lastIndexOf(':');
      const topicId = key.slice(0, i);
      let set = a.get(topicId);
      if (!set) a.set(topicId, (set = new Set()));
      set.add(Number(key.slice(i + 1)));
    }
    out.set(m, a);
  }
  return out;
};

/**
 * Range: per topic, the subscribed members in member-id order each take a contiguous range; the
 * first (partitions % members) members take one more.
 */
export const rangeAssignor: Assignor = (spec) => {
  const out = new Map<string, Assignment>();
  const memberIds = [...spec.members.keys()].sort(byId);
  for (const m of memberIds) out.set(m, new Map());
  for (const [topicId, count] of [...spec.topics].sort(([a], [b]) => byId(a, b))) {
    const subs = memberIds.filter((m) => spec.members.get(m)!.has(topicId));
    if (subs.length === 0) continue;
    const quota = Math.floor(count / subs.length);
    const extra = count % subs.length;
    let next = 0;
    subs.forEach((m, i) => {
      const n = quota + (i < extra ? 1 : 0);
      if (n === 0) return;
      const set = new Set<number>();
      for (let p = next; p < next + n; p++) set.add(p);
      out.get(m)!.set(topicId, set);
      next += n;
    });
  }
  return out;
};

export const ASSIGNORS: Record<string, Assignor> = { uniform: uniformAssignor, range: rangeAssignor };
