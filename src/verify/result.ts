/** The outcome of one check (HTTP or in-cluster) against one target, as the report records it. */
export interface CheckResult {
  target: string;
  check: string;
  kind: 'http' | 'cluster';
  passed: boolean;
  /** What was measured, in one line: `status 200, 35 ms, $.status = "ok"`. */
  measured: string;
  /** Why it failed (empty when it passed). */
  problems: string[];
  attempts?: number;
  method?: string;
  url?: string;
  status?: number;
  latencyMs?: number;
  json?: { expression: string; found: unknown; passed: boolean }[];
  details?: Record<string, unknown>;
}
