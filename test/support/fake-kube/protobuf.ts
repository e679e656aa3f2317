/**
 * Decodes the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) for the few
 * kinds that client-go's typed clients write in it: helm's release storage writes its Secrets
 * (and deletes them with DeleteOptions) in protobuf, whatever the server prefers.
 * Envelope: the magic `k8s\0`, then a runtime.Unknown { typeMeta, raw, contentEncoding, contentType }.
 */
import type { Json } from './types.ts';

type Scalar = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'raw-json';
interface Field {
  name: string;
  type: Scalar | Schema;
  repeated?: boolean;
  /** A map<string, V> (repeated entries { key = 1, value = 2 }). */
  map?: Scalar | Schema;
}
type Schema = Record<number, Field>;

const time: Schema = { 1: { name: 'seconds', type: 'int' }, 2: { name: 'nanos', type: 'int' } };
const ownerReference: Schema = {
  1: { name: 'kind', type: 'string' },
  3: { name: 'name', type: 'string' },
  4: { name: 'uid', type: 'string' },
  5: { name: 'apiVersion', type: 'string' },
  6: { name: 'controller', type: 'bool' },
  7: { name: 'blockOwnerDeletion', type: 'bool' },
};
const managedFieldsEntry: Schema = {
  1: { name: 'manager', type: 'string' },
  2: { name: 'operation', type: 'string' },
  3: { name: 'apiVersion', type: 'string' },
  4: { name: 'time', type: 'time' },
  6: { name: 'fieldsType', type: 'string' },
  7: { name: 'fieldsV1', type: { 1: { name: 'raw', type: 'raw-json' } } },
  8: { name: 'subresource', type: 'string' },
};
const objectMeta: Schema = {
  1: { name: 'name', type: 'string' },
  2: { name: 'generateName', type: 'string' },
  3: { name: 'namespace', type: 'string' },
  5: { name: 'uid', type: 'string' },
  6: { name: 'resourceVersion', type: 'string' },
  7: { name: 'generation', type: 'int' },
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time' },
  10: { name: 'deletionGracePeriodSeconds', type: 'int' },
  11: { name: 'labels', type: 'string', map: 'string' },
  12: { name: 'annotations', type: 'string', map: 'string' },
  13: { name: 'ownerReferences', type: ownerReference, repeated: true },
  14: { name: 'finalizers', type: 'string', repeated: true },
  17: { name: 'managedFields', type: managedFieldsEntry, repeated: true },
};
const schemas: Record<string, Schema> = {
  'v1/Secret': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'data', type: 'string', map: 'bytes' },
    3: { name: 'type', type: 'string' },
    4: { name: 'stringData', type: 'string', map: 'string' },
    5: { name: 'immutable', type: 'bool' },
  },
  'v1/ConfigMap': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'data', type: 'string', map: 'string' },
    3: { name: 'binaryData', type: 'string', map: 'bytes' },
    4: { name: 'immutable', type: 'bool' },
  },
  'v1/Namespace': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'spec', type: { 1: { name: 'finalizers', type: 'string', repeated: true } } },
  },
  'v1/DeleteOptions': {
    1: { name: 'gracePeriodSeconds', type: 'int' },
    2: { name: 'preconditions', type: { 1: { name: 'uid', type: 'string' }, 2: { name: 'resourceVersion', type: 'string' } } },
    3: { name: 'orphanDependents', type: 'bool' },
    4: { name: 'propagationPolicy', type: 'string' },
    5: { name: 'dryRun', type: 'string', repeated: true },
  },
};
schemas['meta.k8s.io/v1/DeleteOptions'] = schemas['v1/DeleteOptions']!;

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

export class ProtobufError extends Error {}

interface Raw {
  no: number;
  wire: number;
  int?: bigint;
  bytes?: Buffer;
}

function readFields(buf: Buffer): Raw[] {
  const out: Raw[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new ProtobufError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, int: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new ProtobufError('truncated field');
      out.push({ no, wire, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
  return out;
}

function scalar(type: Scalar | Schema, f: Raw): Json {
  if (typeof type === 'object') return message(type, f.bytes ?? Buffer.alloc(0));
  switch (type) {
    case 'string':
      return (f.bytes ?? Buffer.alloc(0)).toString('utf8');
    case 'bytes':
      return (f.bytes ?? Buffer.alloc(0)).toString('base64');
    case 'raw-json':
      return JSON.parse((f.bytes ?? Buffer.from('{}')).toString('utf8'));
    case 'int': {
      // int64 as two's complement varint
      const v = BigInt.asIntN(64, f.int ?? 0n);
      return Number(v);
    }
    case 'bool':
      return (f.int ?? 0n) !== 0n;
    case 'time': {
      const t = message(time, f.bytes ?? Buffer.alloc(0));
      return new Date((t.seconds ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    }
  }
}

function message(schema: Schema, buf: Buffer): Json {
  const out: Record<string, Json> = {};
  for (const f of readFields(buf)) {
    const def = schema[f.no];
    if (!def) continue;
    if (def.map) {
      const entry = readFields(f.bytes ?? Buffer.alloc(0));
      const k = entry.find((e) => e.no === 1);
      const v = entry.find((e) => e.no === 2);
      out[def.name] ??= {};
      out[def.name][k ? scalar('string', k) : ''] = v ? scalar(def.map, v) : def.map === 'bytes' || def.map === 'string' ? '' : {};
    } else if (def.repeated) (out[def.name] ??= []).push(scalar(def.type, f));
    else {
      const v = scalar(def.type, f);
      if (def.name === 'fieldsV1' && v && typeof v === 'object' && 'raw' in v) out[def.name] = v.raw;
      else out[def.name] = v;
    }
  }
  return out;
}

/** Decodes an enveloped protobuf body into the JSON form of the object. */
export function decodeProtobuf(body: Buffer): Json {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new ProtobufError('missing the k8s protobuf envelope');
  const unknown = readFields(body.subarray(4));
  const typeMeta = unknown.find((f) => f.no === 1);
  const raw = unknown.find((f) => f.no === 2);
  const tm = typeMeta ? message({ 1: { name: 'apiVersion', type: 'string' }, 2: { name: 'kind', type: 'string' } }, typeMeta.bytes!) : {};
  const schema = schemas[`${tm.apiVersion}/${tm.kind}`];
  if (!schema) throw new ProtobufError(`the fake cannot decode protobuf for ${tm.apiVersion}/${tm.kind}`);
  const obj = message(schema, raw?.bytes ?? Buffer.alloc(0));
  return { apiVersion: tm.apiVersion, kind: tm.kind, ...obj };
}
