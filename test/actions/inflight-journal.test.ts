/**
 * The post step's in-flight journal: each start/end costs one short append (work proportional to
 * the change, counted in bytes written), the file stays bounded by compaction, and a replay at any
 * moment gives exactly the releases in flight.
 */
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InflightJournal, readJournal } from '../../src/actions/tenant-rollout/inflight.ts';

let dir = '';
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('in-flight journal', () => {
  it('5,000 tenants at 10 in parallel: bytes written grow with the changes, the file stays bounded, replay is exact', () => {
    dir = mkdtempSync(join(tmpdir(), 'journal-'));
    const compactAt = 16 * 1024;
    const j = new InflightJournal(join(dir, 'j.jsonl'), compactAt);
    const n = 5000;
    const parallel = 10;
    const live: string[] = [];
    let maxSize = 0;
    const t = (i: number) => ({ namespace: `tenant-t${i}`, release: `t${i}` });
    for (let i = 0; i < n; i++) {
      if (live.length === parallel) {
        const done = live.shift()!;
        j.apply({ op: 'end', ...t(Number(done)) });
      }
      j.apply({ op: 'start', ...t(i), previous: 3 });
      live.push(String(i));
      maxSize = Math.max(maxSize, statSync(j.path).size);
      if (i % 997 === 0)
        expect(
          readJournal(j.path)
            .map((r) => r.release)
            .sort(),
        ).toEqual(live.map((x) => `t${x}`).sort());
    }
    expect(readJournal(j.path)).toHaveLength(parallel);
    expect(readJournal(j.path)[0]).toEqual({ namespace: `tenant-t${n - parallel}`, release: `t${n - parallel}`, previous: 3 });
    // One write per change; about one line per change (compactions add at most `parallel` lines each).
    expect(j.stats.writes).toBe(2 * n - parallel);
    expect(j.stats.bytes).toBeLessThan(2 * n * 80);
    expect(j.stats.compactions).toBeGreaterThan(0);
    expect(maxSize).toBeLessThan(compactAt + 200);
  });

  it('ignores a torn last line (killed mid-write) and reads an absent journal as nothing in flight', () => {
    dir = mkdtempSync(join(tmpdir(), 'journal-'));
    const j = new InflightJournal(join(dir, 'j.jsonl'));
    j.apply({ op: 'start', namespace: 'tenant-a', release: 'a', previous: 1 });
    j.apply({ op: 'start', namespace: 'tenant-b', release: 'b' });
    j.apply({ op: 'end', namespace: 'tenant-b', release: 'b' });
    appendFileSync(j.path, '{"op":"end","namespace":"tenant-a","rel');
    expect(readJournal(j.path)).toEqual([{ namespace: 'tenant-a', release: 'a', previous: 1 }]);
    j.remove();
    expect(readJournal(j.path)).toEqual([]);
  });
});
