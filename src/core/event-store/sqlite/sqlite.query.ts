/**
 * readAll in SQL: the position window, direction, limit and every EventFilter criterion become one
 * prepared statement (cached by its SQL text, which is the filter's shape), read in `.raw()` mode.
 *
 * The plan is chosen here rather than left to SQLite, because SQLite, without statistics, likes an
 * index on a filter column and then sorts every matching row by position to apply LIMIT: paging
 * through a common event type that way costs O(N) per page. The plans used are all bounded:
 * - scan: walk the primary key (= position) from the window's start, testing each row. Cost is the
 *   rows walked; used for small windows (live subscriptions) and when nothing better applies.
 * - actor: `actor = ? AND position > ?` on the actor index reads rows already in position order.
 * - types: one arm per type on the type index, merged by position in a compound SELECT (SQLite
 *   merges co-routines, so it reads about `limit` rows whatever the types' frequency).
 * - range (since/until, or one stream prefix): that index + a sort, only after a bounded probe has
 *   shown the range holds fewer than PROBE_LIMIT rows.
 */
import type Database from 'better-sqlite3';
import type { EventFilter, ReadAllOptions } from '../event-store.port';
import { COLUMNS, INDEX } from './sqlite.schema';

/** Windows spanning at most this many positions are always scanned. */
const SCAN_SPAN = 4096;
/** An index range plus sort is used only when the range holds fewer rows than this. */
const PROBE_LIMIT = 4096;
/** More types than this are tested per row instead of merged. */
const MAX_TYPE_ARMS = 16;
const MAX_CACHED_STATEMENTS = 256;

export const DEFAULT_READ_LIMIT = 1000;

export interface PageQuery {
  after?: number;
  before?: number;
  limit: number;
  backwards: boolean;
  filter?: EventFilter;
}

/**
 * The smallest string greater than every string that starts with `prefix`, in SQLite's BINARY
 * order (UTF-8 bytes = code point order): the prefix with its last code point incremented.
 * undefined when no such bound exists (empty prefix, or only U+10FFFF code points).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()! + 1;
    if (last === 0xd800) last = 0xe000; // skip the surrogate range
    if (last <= 0x10ffff) {
      cps.push(last);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

class Sql {
  readonly where: string[] = [];
  readonly params: unknown[] = [];
  add(condition: string, ...params: unknown[]): void {
    this.where.push(condition);
    this.params.push(...params);
  }
  clause(): string {
    return this.where.length ? ` WHERE ${this.where.join(' AND ')}` : '';
  }
}

/** Criteria (other than `skip`) as SQL on `sql`; returns false when nothing can match. */
function addFilter(sql: Sql, f: EventFilter | undefined, skip: 'types' | 'actor' | 'none' = 'none'): boolean {
  if (!f) return true;
  if (f.streamPrefixes !== undefined) {
    if (f.streamPrefixes.length === 0) return false;
    if (!f.streamPrefixes.includes('')) {
      const ors: string[] = [];
      const params: unknown[] = [];
      for (const p of f.streamPrefixes) {
        const hi = prefixUpperBound(p);
        if (hi === undefined) {
          ors.push('stream >= ?');
          params.push(p);
        } else {
          ors.push('(stream >= ? AND stream < ?)');
          params.push(p, hi);
        }
      }
      sql.add(ors.length === 1 ? ors[0] : `(${ors.join(' OR ')})`, ...params);
    }
  }
  if (f.types !== undefined && skip !== 'types') {
    if (f.types.length === 0) return false;
    sql.add(`type IN (${f.types.map(() => '?').join(', ')})`, ...f.types);
  }
  if (f.actor !== undefined && skip !== 'actor') sql.add('actor = ?', f.actor);
  if (f.since !== undefined) sql.add('timestamp >= ?', f.since);
  if (f.until !== undefined) sql.add('timestamp < ?', f.until);
  return true;
}

function addWindow(sql: Sql, q: PageQuery): void {
  if (q.after !== undefined) sql.add('position > ?', q.after);
  if (q.before !== undefined) sql.add('position < ?', q.before);
}

export class EventQueries {
  private readonly cache = new Map<string, Database.Statement>();
  private readonly head: Database.Statement<[], number>;

  constructor(private readonly db: Database.Database) {
    this.head = db.prepare<[], number>('SELECT coalesce(max(position), 0) FROM events').pluck();
  }

  headPosition(): number {
    return this.head.get() ?? 0;
  }

  /** Raw rows (see COLUMNS) of one page. */
  page(q: PageQuery): unknown[][] {
    if (q.limit === 0) return [];
    const built = this.build(q);
    if (!built) return [];
    return this.statement(built.sql).all(...built.params) as unknown[][];
  }

  /** The SQL a page query runs (exposed for tests). */
  build(q: PageQuery): { sql: string; params: unknown[]; plan: string } | undefined {
    const f = q.filter;
    const order = q.backwards ? 'DESC' : 'ASC';
    const tail = ` ORDER BY position ${order} LIMIT ?`;
    const narrow = f === undefined || this.span(q) <= SCAN_SPAN;

    if (!narrow && f.actor !== undefined) {
      const sql = new Sql();
      sql.add('actor = ?', f.actor);
      addWindow(sql, q);
      if (!addFilter(sql, f, 'actor')) return undefined;
      return {
        sql: `SELECT ${COLUMNS} FROM events INDEXED BY ${INDEX.actor}${sql.clause()}${tail}`,
        params: [...sql.params, q.limit],
        plan: 'actor',
      };
    }
    if (!narrow && f.types !== undefined && f.types.length > 0 && f.types.length <= MAX_TYPE_ARMS) {
      const arms: string[] = [];
      const params: unknown[] = [];
      for (const type of new Set(f.types)) {
        const sql = new Sql();
        sql.add('type = ?', type);
        addWindow(sql, q);
        if (!addFilter(sql, f, 'types')) return undefined;
        arms.push(`SELECT ${COLUMNS} FROM events INDEXED BY ${INDEX.type}${sql.clause()}`);
        params.push(...sql.params);
      }
      const orderBy = arms.length === 1 ? tail : ` ORDER BY 1 ${order} LIMIT ?`;
      return { sql: arms.join(' UNION ALL ') + orderBy, params: [...params, q.limit], plan: 'types' };
    }
    if (!narrow) {
      const index = this.smallRangeIndex(f);
      if (index) {
        const sql = new Sql();
        addWindow(sql, q);
        if (!addFilter(sql, f)) return undefined;
        return {
          sql: `SELECT ${COLUMNS} FROM events INDEXED BY ${index}${sql.clause()}${tail}`,
          params: [...sql.params, q.limit],
          plan: 'range',
        };
      }
    }
    const sql = new Sql();
    addWindow(sql, q);
    if (!addFilter(sql, f)) return undefined;
    // NOT INDEXED still uses the primary key (position) for the window, never a secondary index.
    return { sql: `SELECT ${COLUMNS} FROM events NOT INDEXED${sql.clause()}${tail}`, params: [...sql.params, q.limit], plan: 'scan' };
  }

  private span(q: PageQuery): number {
    const hi = q.before ?? this.headPosition() + 1;
    const lo = q.after ?? 0;
    return hi - lo - 1;
  }

  /** An index whose range (time window or single stream prefix) holds few rows, if any. */
  private smallRangeIndex(f: EventFilter): string | undefined {
    if (f.since !== undefined || f.until !== undefined) {
      const sql = new Sql();
      if (f.since !== undefined) sql.add('timestamp >= ?', f.since);
      if (f.until !== undefined) sql.add('timestamp < ?', f.until);
      if (this.probe(INDEX.timestamp, sql) < PROBE_LIMIT) return INDEX.timestamp;
    }
    if (f.streamPrefixes?.length === 1 && f.streamPrefixes[0] !== '') {
      const sql = new Sql();
      const p = f.streamPrefixes[0];
      const hi = prefixUpperBound(p);
      if (hi === undefined) sql.add('stream >= ?', p);
      else sql.add('stream >= ? AND stream < ?', p, hi);
      if (this.probe(INDEX.streamRevision, sql) < PROBE_LIMIT) return INDEX.streamRevision;
    }
    return undefined;
  }

  /** How many rows the range holds, counting at most PROBE_LIMIT index entries. */
  private probe(index: string, range: Sql): number {
    const sql = `SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY ${index}${range.clause()} LIMIT ${PROBE_LIMIT})`;
    return this.statement(sql, false).get(...range.params) as number;
  }

  private statement(sql: string, raw = true): Database.Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      if (this.cache.size >= MAX_CACHED_STATEMENTS) this.cache.clear();
      stmt = this.db.prepare(sql);
      if (raw) stmt.raw(true);
      else stmt.pluck(true);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}

/** Normalises readAll options (defaults, validation) into a PageQuery. */
export function toPageQuery(options: ReadAllOptions = {}): PageQuery {
  const limit = options.limit ?? DEFAULT_READ_LIMIT;
  checkCount('limit', limit);
  if (options.after !== undefined) checkCount('after', options.after);
  if (options.before !== undefined) checkCount('before', options.before);
  return { after: options.after, before: options.before, limit, backwards: options.direction === 'backwards', filter: options.filter };
}

export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
}
