import type { ResourceType } from './resources.ts';

/** A `Status` failure body, shaped like the API server's (see kube-fixtures/error-*.json). */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  /** `continue` only on a 410 for an expired continue token (the inconsistent way to go on). */
  metadata: { continue?: string };
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message: string; field?: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export class StatusError extends Error {
  readonly body: StatusBody;
  constructor(body: StatusBody) {
    super(body.message);
    this.body = body;
  }
  get code(): number {
    return this.body.code;
  }
}

export function status(code: number, reason: string, message: string, details?: StatusBody['details']): StatusError {
  return new StatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

/** `deployments.apps`, `namespaces`: how the server names a resource in messages. */
export const qualified = (t: ResourceType): string => (t.group ? `${t.resource}.${t.group}` : t.resource);
const detailsOf = (t: ResourceType, name: string) => ({ name, ...(t.group ? { group: t.group } : {}), kind: t.resource });

export const notFound = (t: ResourceType, name: string) =>
  status(404, 'NotFound', `${qualified(t)} "${name}" not found`, detailsOf(t, name));

export const alreadyExists = (t: ResourceType, name: string) =>
  status(409, 'AlreadyExists', `${qualified(t)} "${name}" already exists`, detailsOf(t, name));

export const modifiedConflict = (t: ResourceType, name: string) =>
  status(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(t, name),
  );

export const badRequest = (message: string) => status(400, 'BadRequest', message);

export const invalid = (t: ResourceType, name: string, field: string, message: string) =>
  status(422, 'Invalid', `${t.kind} "${name}" is invalid: ${field}: ${message}`, {
    ...detailsOf(t, name),
    kind: t.kind,
    causes: [{ reason: 'FieldValueInvalid', message, field }],
  });

export const pathNotFound = () => status(404, 'NotFound', 'the server could not find the requested resource', {});

export const methodNotAllowed = () =>
  status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

export const unsupportedMediaType = (ct: string) =>
  status(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${ct})`,
  );

/** The canned failures `failNext` injects, worded like the real server's. */
export function injected(
  code: number,
  ctx: { verb: string; t?: ResourceType; namespace?: string; name?: string },
  message?: string,
): StatusError {
  const resource = ctx.t ? ctx.t.resource : 'resource';
  switch (code) {
    case 401:
      return status(401, 'Unauthorized', message ?? 'Unauthorized');
    case 403: {
      const where = ctx.namespace ? `in the namespace "${ctx.namespace}"` : 'at the cluster scope';
      const msg =
        message ??
        `${ctx.t ? qualified(ctx.t) : resource}${ctx.name ? ` "${ctx.name}"` : ''} is forbidden: User "system:serviceaccount:ci:deployer" cannot ${ctx.verb} resource "${resource}" in API group "${ctx.t?.group ?? ''}" ${where}`;
      return status(403, 'Forbidden', msg, {
        ...(ctx.name ? { name: ctx.name } : {}),
        ...(ctx.t?.group ? { group: ctx.t.group } : {}),
        kind: resource,
      });
    }
    case 404:
      return ctx.t && ctx.name ? notFound(ctx.t, ctx.name) : pathNotFound();
    case 409:
      return ctx.t && ctx.name ? modifiedConflict(ctx.t, ctx.name) : status(409, 'Conflict', message ?? 'conflict');
    case 410:
      return status(
        410,
        'Expired',
        message ??
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      );
    case 429:
      return status(429, 'TooManyRequests', message ?? 'Too many requests, please try again later.', {});
    case 503:
      return status(503, 'ServiceUnavailable', message ?? 'the server is currently unable to handle the request');
    default:
      return status(code, code >= 500 ? 'InternalError' : 'BadRequest', message ?? `Internal error occurred: injected failure`);
  }
}
