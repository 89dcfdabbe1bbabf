/**
 * The limits every GraphQL document meets before anything else looks at it (HTTP and WebSocket
 * alike): its size, its token count, how deep it nests, what it costs, and how much work GraphQL's
 * own validation would spend merging fields that share a response name.
 *
 * Everything here is linear in the document: each selection set is walked once, and each fragment
 * is measured once and memoised, whatever the number of places it is spread (the old depth rule
 * walked a fragment again at each spread, so `fragment Fi { ...Fi+1 ... on Query { ...Fi+1 } }`
 * took time 2^n). The figures themselves are those of the document with every spread expanded in
 * place, so such a document is measured in microseconds and then refused for its (exponential) cost.
 *
 * Why not graphql-query-complexity: its QueryComplexity visitor computes a fragment's complexity
 * again at every spread (no memo; checked at slicknode/graphql-query-complexity@9b6ae78,
 * `nodeComplexity` → `case Kind.FRAGMENT_SPREAD`), which is exactly the exponential walk above.
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  isInputObjectType,
  isEnumType,
  isNonNullType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { AUDIT_MAX_PAGE } from '../core/audit/audit-log';

export const QUERY_LIMITS = {
  /** Bytes (UTF-8) of the query document; variables are not counted (a class list travels in one). */
  maxDocumentBytes: 64 * 1024,
  /** Tokens of the document, counted by the parser, which stops at the first one over. */
  maxTokens: 5000,
  /** Operations in one document. */
  maxOperations: 20,
  /** Fields nested inside each other (`{ clients { mac } }` is 2); introspection (`__*`) exempt. */
  maxDepth: 8,
  /** Selection sets nested inside each other, introspection included. */
  maxNesting: 32,
  /** Estimated cost of an operation (see FIELD_COSTS). */
  maxCost: 20_000,
  /** The same without a token (only `health` and `__typename` may be asked for then). */
  maxAnonymousCost: 200,
  /** Upper bound of the field-merging work of GraphQL's validation (OverlappingFieldsCanBeMerged). */
  maxFieldMergeWork: 20_000,
} as const;

export type QueryLimits = { -readonly [K in keyof typeof QUERY_LIMITS]: number };

export const QueryLimitCode = {
  QUERY_TOO_LARGE: 'QUERY_TOO_LARGE',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  DEPTH_LIMIT: 'DEPTH_LIMIT',
} as const;

/**
 * The cost model: an estimate of the values an answer holds, plus a surcharge for what is costly
 * to compute. Every field costs 1 unless listed; a field returning a list multiplies what is
 * selected below it by the list's expected size: its `first` argument where it has one (the
 * value given, else its default), otherwise `listSize` here, otherwise the size the caller knows
 * (`listSizes`: the read models' current sizes, see graphql.module.ts), otherwise DEFAULT_LIST_SIZE.
 */
export interface FieldCost {
  /** Cost of the field itself (default 1). */
  cost?: number;
  /** The list's size comes from this argument (an Int), capped at `max`. */
  page?: { arg: string; max: number };
  /** Expected size of the list this field returns. */
  listSize?: number;
}

/** Lists of unknown size (an import's rows, one per CSV line). */
export const DEFAULT_LIST_SIZE = 100;

export const FIELD_COSTS: Readonly<Record<string, FieldCost>> = {
  // A look at the store and every plugin: cheap once, not a thousand times.
  'Query.health': { cost: 50 },
  // A replay of the log into a fresh state (limited to 2 at once, see CostlyWork).
  'Query.stateAt': { cost: 10_000 },
  // A page of the audit log: `first` events, each counted with what is selected of it.
  'Query.events': { cost: 10, page: { arg: 'first', max: AUDIT_MAX_PAGE } },
  'EventPage.events': { listSize: 1 },
  'Mutation.rebuildProjections': { cost: 10_000 },
  'Mutation.importUsers': { cost: 5000 },
  'Mutation.importClients': { cost: 5000 },
  // A read of one client's boot stream: `last` sessions of at most ~10 stages each.
  'Query.bootSessions': { cost: 10, page: { arg: 'last', max: 100 } },
  'BootSession.stages': { listSize: 10 },
  'BootProgress.stages': { listSize: 10 },
};

/** What the limits measure of one operation (or one fragment), fragments expanded in place. */
export interface OperationMeasure {
  depth: number;
  nesting: number;
  cost: number;
}

export interface DocumentMeasure {
  operations: number;
  /** Per operation, in document order. */
  byOperation: Array<{ name: string | null; measure: OperationMeasure }>;
  /** Upper bound of OverlappingFieldsCanBeMerged's work over the whole document. */
  fieldMergeWork: number;
}

interface Summary extends OperationMeasure {
  /** Field nodes below (fragments expanded), the field itself not included. */
  size: number;
}

const ZERO: Summary = { depth: 0, nesting: 0, cost: 0, size: 0 };

interface IntrospectionFacts {
  /** List sizes of the introspection types (averages over the schema, at least 1). */
  listSizes: Record<string, number>;
  /** Most wrappers (non-null, list) around any type the schema refers to: `[X!]!` is 3. */
  maxWrappers: number;
}

const introspectionCache = new WeakMap<GraphQLSchema, IntrospectionFacts>();

function introspectionFacts(schema: GraphQLSchema): IntrospectionFacts {
  let facts = introspectionCache.get(schema);
  if (facts) return facts;
  const types = Object.values(schema.getTypeMap());
  const avg = (values: number[]): number => Math.max(1, Math.ceil(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)));
  // Per type of `__Schema.types` (every type): the mean over ALL types, so that `types × fields`
  // is the schema's real number of fields (a mean over object types only, multiplied by every
  // scalar, enum and input type too, over-counted GraphiQL's query by half, and each new type
  // pushed it closer to the limit: the boot types of issue 11 crossed it).
  const perType = (count: (t: (typeof types)[number]) => number): number =>
    Math.max(1, types.reduce((sum, t) => sum + count(t), 0) / Math.max(1, types.length));
  const withFields = types.filter((t) => isObjectType(t) || isInterfaceType(t)) as Array<{
    getFields(): Record<string, GraphQLField<unknown, unknown>>;
  }>;
  const fields = withFields.flatMap((t) => Object.values(t.getFields()));
  const directives = schema.getDirectives();
  const wrappers = (type: GraphQLType): number => {
    let n = 0;
    for (let t = type; isNonNullType(t) || isListType(t); t = t.ofType) n++;
    return n;
  };
  const referenced: GraphQLType[] = [
    ...fields.flatMap((f) => [f.type, ...f.args.map((a) => a.type)]),
    ...types.filter(isInputObjectType).flatMap((t) => Object.values(t.getFields()).map((f) => f.type)),
    ...directives.flatMap((d) => d.args.map((a) => a.type)),
  ];
  facts = {
    listSizes: {
      '__Schema.types': types.length,
      '__Schema.directives': directives.length,
      '__Type.fields': perType((t) => (isObjectType(t) || isInterfaceType(t) ? Object.keys(t.getFields()).length : 0)),
      '__Type.inputFields': perType((t) => (isInputObjectType(t) ? Object.keys(t.getFields()).length : 0)),
      '__Type.enumValues': perType((t) => (isEnumType(t) ? t.getValues().length : 0)),
      '__Type.interfaces': 1,
      '__Type.possibleTypes': 1,
      '__Field.args': avg(fields.map((f) => f.args.length)),
      '__Directive.args': avg(directives.map((d) => d.args.length)),
    },
    maxWrappers: referenced.reduce((max, t) => Math.max(max, wrappers(t)), 0),
  };
  introspectionCache.set(schema, facts);
  return facts;
}

/** One selection set being measured (inline fragments flattened into it, as GraphQL does). */
interface SetState {
  out: Summary;
  /** Merge-work bound: fields by response name (sum and sum of squares of their sizes)... */
  groups: Map<string, { sum: number; squares: number }> | null;
  fieldWeight: number;
  /** ...and fragment spreads, as wildcards that may overlap anything at this level. */
  spreadWeight: number;
  spreadSquares: number;
}

/**
 * Measures a parsed document: per operation its depth, nesting and cost; for the document the
 * field-merge work bound. Linear in the document. `variables` give `first: $n` its value.
 */
export function measureDocument(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables?: Record<string, unknown> | null,
  knownListSizes?: Readonly<Record<string, number>>,
): DocumentMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, Summary | 'visiting'>();
  const { listSizes, maxWrappers } = introspectionFacts(schema);
  const schemaType = schema.getType('__Schema');
  const typeType = schema.getType('__Type');
  let fieldMergeWork = 0;

  const pageSize = (node: FieldNode, field: GraphQLField<unknown, unknown> | undefined, page: { arg: string; max: number }): number => {
    const given = node.arguments?.find((a) => a.name.value === page.arg)?.value;
    const value = given ? literalOrVariable(given, variables) : field?.args.find((a) => a.name === page.arg)?.defaultValue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return page.max;
    return Math.max(0, Math.min(page.max, Math.trunc(value)));
  };

  const fieldType = (
    parent: GraphQLCompositeType | undefined,
    name: string,
  ): { def?: GraphQLField<unknown, unknown>; type?: GraphQLType } => {
    if (name === '__schema') return { type: schemaType ?? undefined };
    if (name === '__type') return { type: typeType ?? undefined };
    if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) return {};
    const def = parent.getFields()[name] as GraphQLField<unknown, unknown> | undefined;
    return def ? { def, type: getNullableType(def.type) } : {};
  };

  const fragmentSummary = (name: string): Summary => {
    const known = memo.get(name);
    if (known === 'visiting') return ZERO; // a cycle: NoFragmentCycles reports it
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment) return ZERO; // unknown: KnownFragmentNames reports it
    memo.set(name, 'visiting');
    const type = schema.getType(fragment.typeCondition.name.value);
    const summary = setSummary(fragment.selectionSet, isCompositeType(type) ? type : undefined, 0);
    memo.set(name, summary);
    return summary;
  };

  /** `ofTypeDepth`: how many `__Type.ofType` this set is nested in, in a row. */
  const visitSelections = (state: SetState, set: SelectionSetNode, parent: GraphQLCompositeType | undefined, ofTypeDepth: number): void => {
    const out = state.out;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const { def, type } = fieldType(parent, name);
        const named = type ? getNamedType(type) : undefined;
        const coordinate = `${parent?.name ?? '?'}.${name}`;
        const chain = coordinate === '__Type.ofType' ? ofTypeDepth + 1 : 0;
        const child = selection.selectionSet
          ? setSummary(selection.selectionSet, named && isCompositeType(named) ? named : undefined, chain)
          : ZERO;
        const rule = FIELD_COSTS[coordinate];
        let multiplier = 1;
        if (rule?.page) multiplier = pageSize(selection, def, rule.page);
        else if (type && isListType(type) && selection.selectionSet) {
          multiplier = rule?.listSize ?? listSizes[coordinate] ?? knownListSizes?.[coordinate] ?? DEFAULT_LIST_SIZE;
        } else if (chain > maxWrappers) {
          // Deeper than any type of this schema is wrapped: `ofType` is null here, nothing below runs.
          multiplier = 0;
        }
        out.cost += (rule?.cost ?? 1) + multiplier * child.cost;
        if (1 + child.nesting > out.nesting) out.nesting = 1 + child.nesting;
        // Introspection (`__schema`, `__type`, `__typename`) does not count toward the depth.
        if (!name.startsWith('__') && 1 + child.depth > out.depth) out.depth = 1 + child.depth;
        const weight = 1 + child.size;
        out.size += weight;
        const key = selection.alias?.value ?? name;
        state.groups ??= new Map();
        const group = state.groups.get(key);
        if (group) {
          group.sum += weight;
          group.squares += weight * weight;
        } else state.groups.set(key, { sum: weight, squares: weight * weight });
        state.fieldWeight += weight;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        visitSelections(state, selection.selectionSet, condition && isCompositeType(condition) ? condition : undefined, ofTypeDepth);
      } else {
        const fragment = fragmentSummary(selection.name.value);
        out.cost += fragment.cost;
        if (fragment.depth > out.depth) out.depth = fragment.depth;
        if (fragment.nesting > out.nesting) out.nesting = fragment.nesting;
        out.size += fragment.size;
        state.spreadWeight += fragment.size;
        state.spreadSquares += fragment.size * fragment.size;
      }
    }
  };

  /** One selection set of the document; adds its field-merge bound to the document's total. */
  const setSummary = (set: SelectionSetNode, parent: GraphQLCompositeType | undefined, ofTypeDepth: number): Summary => {
    const state: SetState = {
      out: { depth: 0, nesting: 1, cost: 0, size: 0 },
      groups: null,
      fieldWeight: 0,
      spreadWeight: 0,
      spreadSquares: 0,
    };
    visitSelections(state, set, parent, ofTypeDepth);
    let pairs = state.spreadWeight * state.fieldWeight + (state.spreadWeight * state.spreadWeight - state.spreadSquares) / 2;
    if (state.groups && state.groups.size < state.fieldWeight) {
      for (const g of state.groups.values()) if (g.squares !== g.sum * g.sum) pairs += (g.sum * g.sum - g.squares) / 2;
    }
    fieldMergeWork += pairs;
    return state.out;
  };

  const roots: Record<string, GraphQLCompositeType | undefined> = {
    query: schema.getQueryType() ?? undefined,
    mutation: schema.getMutationType() ?? undefined,
    subscription: schema.getSubscriptionType() ?? undefined,
  };
  const byOperation: DocumentMeasure['byOperation'] = [];
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const s = setSummary(d.selectionSet, roots[d.operation], 0);
    byOperation.push({ name: d.name?.value ?? null, measure: { depth: s.depth, nesting: s.nesting, cost: s.cost } });
  }
  // Fragments no operation spreads are still validated (and merged) by GraphQL.
  for (const name of fragments.keys()) fragmentSummary(name);
  return { operations: byOperation.length, byOperation, fieldMergeWork };
}

function literalOrVariable(value: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  if (value.kind === Kind.INT || value.kind === Kind.FLOAT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) return variables?.[value.name.value];
  return undefined;
}

function limitError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/**
 * The first limit the parsed document breaks, as an error with its code, or null. Only the
 * operation that would run is held to the per-operation limits when `operationName` (or a single
 * operation) says which one; otherwise every operation is.
 */
export function checkDocumentLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  options: {
    operationName?: string | null;
    variables?: Record<string, unknown> | null;
    anonymous: boolean;
    limits?: QueryLimits;
    /** Sizes of lists by field coordinate (`Query.clients`), as they are now. */
    listSizes?: Readonly<Record<string, number>>;
  },
): GraphQLError | null {
  const limits = options.limits ?? QUERY_LIMITS;
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION).length;
  if (operations > limits.maxOperations) {
    return limitError(
      QueryLimitCode.QUERY_TOO_COMPLEX,
      `the document holds ${operations} operations; the limit is ${limits.maxOperations}`,
    );
  }
  let measure: DocumentMeasure;
  try {
    measure = measureDocument(schema, document, options.variables, options.listSizes);
  } catch (error) {
    if (error instanceof RangeError) return limitError(QueryLimitCode.QUERY_TOO_COMPLEX, 'the document nests too deeply');
    throw error;
  }
  const chosen = measure.byOperation.filter((o) => (options.operationName ? o.name === options.operationName : true));
  const held = chosen.length > 0 ? chosen : measure.byOperation;
  for (const { measure: m } of held) {
    if (m.depth > limits.maxDepth) {
      return limitError(QueryLimitCode.DEPTH_LIMIT, `query is ${m.depth} levels deep; the limit is ${limits.maxDepth}`);
    }
    if (m.nesting > limits.maxNesting) {
      return limitError(QueryLimitCode.DEPTH_LIMIT, `selections nest ${m.nesting} levels deep; the limit is ${limits.maxNesting}`);
    }
    const maxCost = options.anonymous ? limits.maxAnonymousCost : limits.maxCost;
    if (!(m.cost <= maxCost)) {
      const cost = Number.isFinite(m.cost) && m.cost < 1e15 ? String(Math.round(m.cost)) : 'astronomical';
      return limitError(
        QueryLimitCode.QUERY_TOO_COMPLEX,
        `query cost is ${cost}; the limit is ${maxCost}${options.anonymous ? ' without a token' : ''}` +
          ' (each field costs 1, a list multiplies what it selects by `first` or by its current size, costly fields cost more; fragments count where they are spread)',
      );
    }
  }
  if (!(measure.fieldMergeWork <= limits.maxFieldMergeWork)) {
    return limitError(
      QueryLimitCode.QUERY_TOO_COMPLEX,
      `too many fields or fragments share a response name (merge work ${measure.fieldMergeWork < 1e15 ? Math.round(measure.fieldMergeWork) : 'astronomical'}; the limit is ${limits.maxFieldMergeWork})`,
    );
  }
  return null;
}
