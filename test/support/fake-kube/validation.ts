/**
 * The apiserver's validation for the mistakes charts and clients really make: 422 Invalid with
 * the server's message and causes. Not the whole of it: names, label values, selectors that do
 * not match the pod template, out-of-range ports and replicas, and the immutable fields a
 * deploy tool trips over (a Deployment's selector, a Service's clusterIP).
 */
import type { ResourceType } from './resources.ts';
import { status, type StatusError } from './status.ts';
import type { Json, KubeObject } from './types.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kinds whose names must be DNS-1123 labels (the rest: subdomains). */
const LABEL_NAMED = new Set(['Namespace', 'Service']);

interface Cause {
  field: string;
  message: string;
  reason?: string;
}

const goMap = (m: Record<string, unknown>) =>
  `map[string]string{${Object.entries(m)
    .map(([k, v]) => `"${k}":"${String(v)}"`)
    .join(', ')}}`;

function invalid(t: ResourceType, name: string, causes: Cause[]): StatusError {
  const kind = t.group ? `${t.kind}.${t.group}` : t.kind;
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return status(422, 'Invalid', `${kind} "${name}" is invalid: ${causes.length > 1 ? `[${text}]` : text}`, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.kind,
    causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

function portCauses(ports: Json[] | undefined, path: string, key: string): Cause[] {
  const out: Cause[] = [];
  (ports ?? []).forEach((p: Json, i: number) => {
    const v = p?.[key];
    if (typeof v === 'number' && (v < 1 || v > 65535 || !Number.isInteger(v)))
      out.push({ field: `${path}[${i}].${key}`, message: `Invalid value: ${v}: must be between 1 and 65535, inclusive` });
  });
  return out;
}

/** The 422 the real server would answer for `obj` (created, or updated from `before`), if any. */
export function validate(t: ResourceType, obj: KubeObject, before?: KubeObject): StatusError | undefined {
  const causes: Cause[] = [];
  const name = obj.metadata.name;
  const pattern = LABEL_NAMED.has(t.kind) ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (!before && (name.length > (LABEL_NAMED.has(t.kind) ? 63 : 253) || !pattern.test(name))) {
    causes.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 ${LABEL_NAMED.has(t.kind) ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-'${LABEL_NAMED.has(t.kind) ? '' : " or '.'"}, and must start and end with an alphanumeric character`,
    });
  }
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    const s = String(v);
    if (s.length > 63 || !LABEL_VALUE.test(s))
      causes.push({
        field: `metadata.labels`,
        message: `Invalid value: "${s}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (label ${k})`,
      });
  }
  const spec = obj.spec ?? {};
  if (['Deployment', 'StatefulSet', 'ReplicaSet'].includes(t.kind)) {
    if (typeof spec.replicas === 'number' && spec.replicas < 0)
      causes.push({ field: 'spec.replicas', message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0` });
    const sel: Record<string, string> = spec.selector?.matchLabels ?? {};
    const labels: Record<string, string> = spec.template?.metadata?.labels ?? {};
    if (!Object.keys(sel).length && !(spec.selector?.matchExpressions ?? []).length)
      causes.push({ field: 'spec.selector', message: 'Required value', reason: 'FieldValueRequired' });
    else if (Object.entries(sel).some(([k, v]) => labels[k] !== v))
      causes.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``,
      });
    if (before && JSON.stringify(before.spec?.selector ?? {}) !== JSON.stringify(spec.selector ?? {}))
      causes.push({
        field: 'spec.selector',
        message: `Invalid value: v1.LabelSelector{MatchLabels:${goMap(sel)}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`,
      });
    for (const [i, c] of (spec.template?.spec?.containers ?? []).entries())
      causes.push(...portCauses(c?.ports, `spec.template.spec.containers[${i}].ports`, 'containerPort'));
  }
  if (t.kind === 'Service') {
    causes.push(...portCauses(spec.ports, 'spec.ports', 'port'));
    const was = before?.spec?.clusterIP;
    if (was && spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== was)
      causes.push(
        { field: 'spec.clusterIPs[0]', message: `Invalid value: []string{"${spec.clusterIP}"}: may not change once set` },
        { field: 'spec.clusterIP', message: `Invalid value: "${spec.clusterIP}": field is immutable` },
      );
  }
  return causes.length ? invalid(t, name, causes) : undefined;
}
