/**
 * Fault injection for the fake: what a large real cluster does to clients now and then. API
 * Priority and Fairness answers 429 with Retry-After, an apiserver restarting answers 500/503,
 * a load balancer in front answers 502/504 or drops the connection, and any request can be slow.
 *
 *   kube.inject({ path: /\/secrets/, method: 'GET' }, { status: 429, retryAfterSeconds: 1 }, { skip: 2, times: 1 });
 *   kube.inject({ verb: 'list', path: '/apis/apps/v1/deployments' }, { drop: true }, { rate: 1 / 7, seed: 42 });
 *   kube.inject(() => true, { latencyMs: 200 });        // every request, 200 ms slower
 *
 * Which matching requests fail is deterministic: `skip` the first N, then fail `times` of them
 * (default 1; Infinity for all), or, with `rate`, each one with that probability from a PRNG
 * seeded by `seed` (the same seed fails the same requests of the same sequence).
 */
import type { RecordedRequest } from './types.ts';

/** Kubernetes verbs, as API Priority and Fairness and RBAC name them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RequestMatch {
  method?: string | string[];
  /** Exact path, or a pattern tested against the path (no query string). */
  path?: string | RegExp;
  verb?: Verb | Verb[];
}

export type Fault =
  /** A Status error with this code (429 with `Retry-After` when given; the message defaults to the real server's). */
  | { status: number; retryAfterSeconds?: number; message?: string; latencyMs?: number }
  /** The connection is destroyed after the request was read: the client sees a reset / socket hang up. */
  | { drop: true; latencyMs?: number }
  /** Only slower: the request is answered normally after `latencyMs`. */
  | { latencyMs: number };

export interface InjectOptions {
  /** Matching requests let through before the first fault (default 0). */
  skip?: number;
  /** Faults to inject, then the rule is spent (default 1; `Infinity`: every matching request). Ignored with `rate`. */
  times?: number;
  /** Instead of skip/times: each matching request faults with this probability (0..1). */
  rate?: number;
  /** Seed of the PRNG behind `rate` (default 1). */
  seed?: number;
}

/** A live rule: how many requests it matched and faulted; `remove()` ends it. */
export interface FaultRule {
  readonly matched: number;
  readonly injected: number;
  remove(): void;
}

/** mulberry32: a tiny seeded PRNG, so a "random" fault pattern is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function verbOf(r: Pick<RecordedRequest, 'method' | 'query'>, named: boolean): Verb {
  switch (r.method) {
    case 'GET':
      return r.query.watch === 'true' || r.query.watch === '1' ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return 'get';
  }
}

const oneOf = <T>(want: T | T[] | undefined, got: T) => want === undefined || (Array.isArray(want) ? want.includes(got) : want === got);

interface Rule {
  match: (r: RecordedRequest, verb: Verb) => boolean;
  fault: Fault;
  skip: number;
  remaining: number;
  rate?: () => boolean;
  matched: number;
  injected: number;
  removed: boolean;
}

export class FaultInjector {
  private readonly rules: Rule[] = [];

  add(match: RequestMatch | ((r: RecordedRequest) => boolean), fault: Fault, opts: InjectOptions = {}): FaultRule {
    const test =
      typeof match === 'function'
        ? (r: RecordedRequest) => match(r)
        : (r: RecordedRequest, verb: Verb) =>
            oneOf(match.method, r.method) &&
            oneOf(match.verb, verb) &&
            (match.path === undefined || (typeof match.path === 'string' ? r.path === match.path : match.path.test(r.path)));
    const random = opts.rate !== undefined ? prng(opts.seed ?? 1) : undefined;
    const rule: Rule = {
      match: test,
      fault,
      skip: opts.skip ?? 0,
      remaining: opts.times ?? 1,
      rate: random && (() => random() < opts.rate!),
      matched: 0,
      injected: 0,
      removed: false,
    };
    this.rules.push(rule);
    return {
      get matched() {
        return rule.matched;
      },
      get injected() {
        return rule.injected;
      },
      remove: () => {
        rule.removed = true;
      },
    };
  }

  clear(): void {
    for (const r of this.rules) r.removed = true;
    this.rules.splice(0);
  }

  /** The fault for this request, if a rule fires (every matching rule counts the request; the first that fires wins). */
  pick(r: RecordedRequest, verb: Verb): Fault | undefined {
    let chosen: Fault | undefined;
    for (const rule of this.rules) {
      if (rule.removed || !rule.match(r, verb)) continue;
      rule.matched++;
      if (chosen) continue;
      let fire: boolean;
      if (rule.rate) fire = rule.rate();
      else if (rule.skip > 0) {
        rule.skip--;
        fire = false;
      } else fire = rule.remaining > 0;
      if (!fire) continue;
      if (!rule.rate) rule.remaining--;
      rule.injected++;
      chosen = rule.fault;
    }
    return chosen;
  }
}
