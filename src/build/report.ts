import { stringify } from 'yaml';
import { humanDuration } from '../core/duration.ts';
import { tableRow } from '../core/format.ts';
import { formatBytes } from './registry.ts';
import type { ImageOutcome, Release } from './release.ts';

export interface ImageOutput {
  /** `repository@digest` when pushed (immutable), else `repository:version`. */
  ref: string;
  repository: string;
  digest: string | null;
  tags: string[];
  pushed: boolean;
}

/** The `images` output: `{ name: { ref, repository, digest, tags, pushed } }`, for the images that succeeded. */
export function imagesOutput(release: Release): Record<string, ImageOutput> {
  const out: Record<string, ImageOutput> = {};
  for (const o of release.outcomes) {
    if (o.status !== 'pushed' && o.status !== 'built') continue;
    out[o.name] = {
      ref: o.digest ? `${o.repository}@${o.digest}` : `${o.repository}:${release.plan.version}`,
      repository: o.repository,
      digest: o.digest ?? null,
      tags: o.tags,
      pushed: o.status === 'pushed',
    };
  }
  return out;
}

/**
 * The `values` output: per image, the `image:` block of a chart (repository, tag, digest), keyed
 * by image name, e.g. for an umbrella chart whose subcharts are named like the images. A chart that
 * honours `image.digest` (examples/charts/tenant-app) then deploys exactly what was pushed.
 */
export function valuesSnippet(release: Release): string {
  const doc: Record<string, { image: { repository: string; tag: string; digest: string } }> = {};
  for (const o of release.outcomes) {
    if (o.status !== 'pushed' && o.status !== 'built') continue;
    doc[o.name] = { image: { repository: o.repository, tag: release.plan.version, digest: o.digest ?? '' } };
  }
  return stringify(doc);
}

function sizeCell(o: ImageOutcome): string {
  if (!o.size) return '—';
  if (!o.size.platforms) return formatBytes(o.size.total);
  return Object.entries(o.size.platforms)
    .map(([p, n]) => `${p}: ${formatBytes(n)}`)
    .join('<br>');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Job summary: one row per image with tags, digest, size and build time. */
export function summaryMarkdown(release: Release): string {
  const rows = release.outcomes.map((o) => {
    const status = { pushed: '✅ pushed', built: '☑️ built (not pushed)', failed: '❌ failed', 'not-started': '⏭️ not started' }[o.status];
    return tableRow([
      `\`${cell(o.repository)}\``,
      status,
      o.tags.map((t) => `\`${cell(t)}\``).join(' '),
      o.digest ? `\`${o.digest}\`` : '—',
      sizeCell(o),
      o.durationMs === undefined ? '—' : humanDuration(o.durationMs),
    ]);
  });
  const failed = release.outcomes.filter((o) => o.status === 'failed');
  const details = failed.map((o) => {
    const tail = (o.tail ?? []).join('\n').replace(/```/g, "'''");
    return `\n<details><summary>${cell(o.name)}: ${cell(o.error ?? 'failed')}</summary>\n\n\`\`\`\n${tail}\n\`\`\`\n</details>\n`;
  });
  return [
    `### build-images: ${release.plan.version}`,
    '',
    `Builder \`${release.builder}\`, ${release.push ? 'pushed' : 'not pushed'}.`,
    '',
    '| image | status | tags | digest | size | build time |',
    '|---|---|---|---|---|---|',
    ...rows,
    ...details,
    '',
  ].join('\n');
}

/** Undefined when every image succeeded; else the step's failure message (builder tails included). */
export function failureMessage(release: Release): string | undefined {
  const failed = release.outcomes.filter((o) => o.status === 'failed');
  if (!failed.length) return undefined;
  const pushed = release.outcomes.filter((o) => o.status === 'pushed');
  const notStarted = release.outcomes.filter((o) => o.status === 'not-started');
  const lines = [`${failed.length} of ${release.outcomes.length} image(s) failed: ${failed.map((o) => o.name).join(', ')}`];
  for (const o of failed) {
    lines.push(`${o.name}: ${o.error ?? 'failed'}`);
    for (const l of (o.tail ?? []).slice(-10)) lines.push(`  | ${l}`);
  }
  lines.push(
    pushed.length
      ? `pushed anyway: ${pushed.map((o) => `${o.repository}@${o.digest ?? '?'}`).join(', ')}`
      : release.push
        ? 'pushed anyway: none'
        : 'nothing was pushed (push is off)',
  );
  if (notStarted.length) lines.push(`not started (fail-fast): ${notStarted.map((o) => o.name).join(', ')}`);
  return lines.join('\n');
}
