/** The defaulting the API server applies to the fields the fake's users (helm, client-node) see. */
import { isPlainObject, type Json, type KubeObject } from './types.ts';

let nextClusterIP = 1;

function defaultProbe(p: Json): void {
  if (!isPlainObject(p)) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (isPlainObject(p.httpGet)) p.httpGet.scheme ??= 'HTTP';
}

function defaultContainer(c: Json): void {
  if (!isPlainObject(c)) return;
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined) {
    const image = String(c.image ?? '');
    const tag = image.includes('@') ? 'digest' : /:([^/:]+)$/.exec(image)?.[1];
    c.imagePullPolicy = !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  c.resources ??= {};
  for (const p of Array.isArray(c.ports) ? c.ports : []) if (isPlainObject(p)) p.protocol ??= 'TCP';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

export function defaultPodSpec(spec: Json): void {
  if (!isPlainObject(spec)) return;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) defaultContainer(c);
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  if (spec.serviceAccountName && !spec.serviceAccount) spec.serviceAccount = spec.serviceAccountName;
}

/** Only the defaults that form list keys: applied configurations are keyed like the live object. */
export function defaultListKeys(obj: KubeObject): void {
  const walk = (v: Json, field?: string) => {
    if (Array.isArray(v)) {
      for (const i of v) {
        if (field === 'ports' && isPlainObject(i) && i.protocol === undefined) i.protocol = 'TCP';
        walk(i);
      }
    } else if (isPlainObject(v)) for (const [k, c] of Object.entries(v)) walk(c, k);
  };
  walk(obj.spec);
}

export function applyDefaults(obj: KubeObject): void {
  const spec = obj.spec;
  switch (obj.kind) {
    case 'Namespace':
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      obj.spec = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      obj.status ??= { phase: 'Active' };
      break;
    case 'Secret':
      obj.type ??= 'Opaque';
      if (isPlainObject(obj.stringData)) {
        obj.data = { ...(obj.data ?? {}) };
        for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64');
        delete obj.stringData;
      }
      break;
    case 'Service': {
      const s = (obj.spec ??= {});
      s.type ??= 'ClusterIP';
      s.sessionAffinity ??= 'None';
      for (const p of Array.isArray(s.ports) ? s.ports : []) {
        if (!isPlainObject(p)) continue;
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      if (s.type !== 'ExternalName') {
        if (!s.clusterIP) {
          const n = nextClusterIP++;
          s.clusterIP = `10.0.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
        }
        s.clusterIPs ??= [s.clusterIP];
        if (s.clusterIP !== 'None') {
          s.ipFamilies ??= ['IPv4'];
          s.ipFamilyPolicy ??= 'SingleStack';
        }
        s.internalTrafficPolicy ??= 'Cluster';
      }
      obj.status ??= { loadBalancer: {} };
      break;
    }
    case 'Deployment': {
      const s = (obj.spec ??= {});
      s.replicas ??= 1;
      s.strategy ??= { type: 'RollingUpdate' };
      if (s.strategy.type === 'RollingUpdate' || s.strategy.type === undefined) {
        s.strategy.type = 'RollingUpdate';
        s.strategy.rollingUpdate = { maxUnavailable: '25%', maxSurge: '25%', ...(s.strategy.rollingUpdate ?? {}) };
      }
      s.revisionHistoryLimit ??= 10;
      s.progressDeadlineSeconds ??= 600;
      defaultPodSpec(s.template?.spec);
      obj.status ??= {};
      break;
    }
    case 'ReplicaSet':
      obj.spec ??= {};
      obj.spec.replicas ??= 1;
      defaultPodSpec(obj.spec.template?.spec);
      obj.status ??= { replicas: 0 };
      break;
    case 'StatefulSet': {
      const s = (obj.spec ??= {});
      s.replicas ??= 1;
      s.podManagementPolicy ??= 'OrderedReady';
      s.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      s.revisionHistoryLimit ??= 10;
      s.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultPodSpec(s.template?.spec);
      obj.status ??= { replicas: 0, availableReplicas: 0 };
      break;
    }
    case 'DaemonSet':
    case 'Job':
      defaultPodSpec(obj.spec?.template?.spec);
      obj.status ??= {};
      break;
    case 'Pod':
      defaultPodSpec(obj.spec);
      obj.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
      break;
  }
}
