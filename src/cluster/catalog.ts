// The broker's in-memory view of topics, kept in step with the metadata store by the code that
// changes topics, so the produce and fetch paths resolve names and ids without a database call.
import type { MetadataStore, TopicRecord } from '../metadata/store.ts';

export class TopicCatalog {
  private readonly byNameMap = new Map<string, TopicRecord>();
  private readonly byIdMap = new Map<string, TopicRecord>();

  async load(store: MetadataStore): Promise<void> {
    this.byNameMap.clear();
    this.byIdMap.clear();
    for (const t of await store.topics()) this.put(t);
  }

  put(t: TopicRecord): void {
    const old = this.byIdMap.get(t.topicId);
    if (old) this.byNameMap.delete(old.name);
    this.byNameMap.set(t.name, t);
    this.byIdMap.set(t.topicId, t);
  }

  remove(topicId: string): void {
    const t = this.byIdMap.get(topicId);
    if (!t) return;
    this.byIdMap.delete(topicId);
    this.byNameMap.delete(t.name);
  }

  byName(name: string): TopicRecord | undefined {
    return this.byNameMap.get(name);
  }

  byId(topicId: string): TopicRecord | undefined {
    return this.byIdMap.get(topicId);
  }

  all(): TopicRecord[] {
    return [...this.byNameMap.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}
