/**
 * Who is calling. Every operation but `health` needs a valid API token:
 * - HTTP: `Authorization: Bearer <token>`; checked once per request (Apollo plugin below), so an
 *   unauthenticated request gets UNAUTHENTICATED (HTTP 401) and no data at all;
 * - WebSocket (graphql-ws): `connectionParams.Authorization` (or `authorization`, or a bare
 *   `token`), checked at connection_init; a bad token closes the socket with 4401 UNAUTHENTICATED.
 * The resolvers' guard checks again, field by field (defence in depth, and the only check for
 * operations sent over the WebSocket).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Request } from 'express';
import { AuthService } from '../core/auth/auth.service';
import { unauthenticatedError } from './errors';

/** The GraphQL context of one HTTP request or one WebSocket operation. */
export interface GqlContext {
  /** The authenticated actor (`admin:<token name>`), or null. */
  actor: string | null;
  req?: Request;
}

/** Root fields anyone may ask for. */
export const PUBLIC_ROOT_FIELDS = new Set(['health', '__typename']);

const IS_PUBLIC = 'bramble:graphql:public';
/** Marks a resolver method that needs no token. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Context for an HTTP request. */
export function httpContext(auth: AuthService, req: Request): GqlContext {
  const header = req.headers.authorization;
  return { actor: auth.actorFor(typeof header === 'string' ? header : null), req };
}

/** The Authorization value carried by graphql-ws connectionParams (case-insensitive key; `token` may be bare). */
export function authorizationFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined | null): string | null {
  if (!params || typeof params !== 'object') return null;
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string') continue;
    const k = key.toLowerCase();
    if (k === 'authorization') return value;
    if (k === 'token') return /^bearer\s/i.test(value) ? value : `Bearer ${value}`;
  }
  return null;
}

function rootFieldNames(
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  names: Set<string>,
  seen: Set<string>,
): void {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) names.add(s.name.value);
    else if (s.kind === Kind.INLINE_FRAGMENT) rootFieldNames(s.selectionSet, fragments, names, seen);
    else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      const fragment = fragments.get(s.name.value);
      if (fragment) rootFieldNames(fragment.selectionSet, fragments, names, seen);
    }
  }
}

/** The document's fragments by name (built once per document). */
const fragmentMaps = new WeakMap<DocumentNode, Map<string, FragmentDefinitionNode>>();

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  let map = fragmentMaps.get(document);
  if (!map) {
    map = new Map();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION && !map.has(d.name.value)) map.set(d.name.value, d);
    fragmentMaps.set(document, map);
  }
  return map;
}

/** True when the operation asks only for public root fields (each fragment looked at once). */
export function isPublicOperation(operation: OperationDefinitionNode, document: DocumentNode): boolean {
  if (operation.operation !== 'query') return false;
  const names = new Set<string>();
  rootFieldNames(operation.selectionSet, fragmentsOf(document), names, new Set());
  return [...names].every((n) => PUBLIC_ROOT_FIELDS.has(n));
}

/** Refuses a whole HTTP request (no data, HTTP 401) when it has no valid token and is not public. */
export function requireTokenPlugin(): ApolloServerPlugin<GqlContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation, document }) {
          if (contextValue.actor) return;
          if (operation && isPublicOperation(operation, document)) return;
          throw unauthenticatedError();
        },
      };
    },
  };
}

/** Field-level check on every resolver class; `@Public()` methods are let through. */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const ctx = GqlExecutionContext.create(context).getContext<GqlContext>();
    if (!ctx?.actor) throw unauthenticatedError();
    return true;
  }
}

/** The authenticated actor of the request: goes into every command's metadata. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const actor = GqlExecutionContext.create(context).getContext<GqlContext>()?.actor;
  if (!actor) throw unauthenticatedError();
  return actor;
});
