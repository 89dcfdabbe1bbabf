import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { ApiErrorCode } from './errors';

/** Deepest field nesting below `set` (`{ clients { mac } }` is 2). Introspection (`__*`) is not counted. */
function depthOf(set: SelectionSetNode, context: ValidationContext, depth: number, fragments: Set<string>): number {
  let max = depth;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      max = Math.max(max, selection.selectionSet ? depthOf(selection.selectionSet, context, depth + 1, fragments) : depth + 1);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(selection.selectionSet, context, depth, fragments));
    } else {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      // Unknown and cyclic fragments are reported by GraphQL's own rules.
      if (!fragment || fragments.has(name)) continue;
      fragments.add(name);
      max = Math.max(max, depthOf(fragment.selectionSet, context, depth, fragments));
      fragments.delete(name);
    }
  }
  return max;
}

/**
 * A validation rule refusing operations nested deeper than `maxDepth` fields (code DEPTH_LIMIT).
 * Introspection fields are exempt: their shape is fixed by the schema, and GraphiQL's own
 * introspection query is deeper than any limit worth having.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const depth = depthOf(node.selectionSet, context, 0, new Set());
      if (depth > maxDepth) {
        context.reportError(
          new GraphQLError(`query is ${depth} levels deep; the limit is ${maxDepth}`, {
            nodes: [node],
            extensions: { code: ApiErrorCode.DEPTH_LIMIT },
          }),
        );
      }
    },
  });
}
