// How this process hears of its own writes before their NOTIFY arrives (read-your-writes for the
// per-process caches): a Kysely plugin that sees each write to the tables it watches, and the commit of
// every transaction that inTransaction (database.ts) runs.
import type { Kysely, KyselyPlugin, OperationNode, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { DB } from './types.js';

const WRITE_KINDS = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode']);

function mentionsTable(node: unknown, tables: ReadonlySet<string>): boolean {
  if (node === null || typeof node !== 'object') return false;
  const candidate = node as { kind?: string; table?: { identifier?: { name?: string } } };
  if (candidate.kind === 'TableNode') return tables.has(candidate.table?.identifier?.name ?? '');
  return Object.values(node).some((child) => mentionsTable(child, tables));
}

/** The table a write targets (`into`, `table`, `from`), not tables its subqueries only read. */
function writesTo(node: RootOperationNode, tables: ReadonlySet<string>): boolean {
  if (!WRITE_KINDS.has(node.kind)) return false;
  const target = node as { into?: OperationNode; table?: OperationNode; from?: OperationNode };
  return mentionsTable(target.into ?? target.table ?? target.from, tables);
}

/** A plugin of tableWritesPlugin: it also hears when inTransaction (database.ts) has committed. */
export interface TableWritesPlugin extends KyselyPlugin {
  afterCommit(): void;
}

/**
 * Calls `onWrite` when a query built through this Kysely instance writes to one of `tables` (each has
 * a NOTIFY trigger): once when it is sent and once when it has answered, so a read that raced the
 * write is not kept; and after every transaction that inTransaction commits, since a read made between
 * a transaction's write and its commit still saw the old row. Raw `sql` statements are not seen; the
 * triggers cover them (and other processes).
 */
export function tableWritesPlugin(tables: ReadonlySet<string>, onWrite: () => void): TableWritesPlugin {
  const writes = new WeakSet<object>();
  return {
    afterCommit: onWrite,
    transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
      if (writesTo(node, tables)) {
        writes.add(queryId);
        onWrite();
      }
      return node;
    },
    transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      if (writes.has(queryId)) onWrite();
      return Promise.resolve(result);
    },
  };
}

/** Tells the tableWritesPlugins of `db` that a transaction committed (inTransaction calls it). */
export function announceCommit(db: Kysely<DB>): void {
  for (const plugin of db.getExecutor().plugins) if ('afterCommit' in plugin) (plugin as TableWritesPlugin).afterCommit();
}
