import { isAbsolute, join, relative, resolve } from 'node:path';
import { YAMLParseError, parse } from 'yaml';
import { ConfigurationError } from '../core/errors.ts';

/** One image to build, resolved and validated: absolute paths, merged defaults. */
export interface ImageSpec {
  /** The key in every output (`images`, `values`), e.g. `isp-ops-app`. */
  name: string;
  /** Full repository without tag, e.g. `ghcr.io/dotmac/isp-ops-app`. */
  repository: string;
  /** Absolute build context directory. */
  context: string;
  /** Absolute Dockerfile path. */
  dockerfile: string;
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** Empty: the builder's own platform. */
  platforms: string[];
  /** Tags for this image only, added to the derived and the action-wide ones. */
  tags: string[];
}

/** Where the list came from, so an error names it (an input, or a file with a line). */
export type ImageSource = { kind: 'input'; input: string } | { kind: 'file'; input: string; path: string };

export interface ImageDefaults {
  /** Registry host plus optional namespace, e.g. `ghcr.io/dotmac`; '' when every image sets `repository`. */
  registry: string;
  /** Directory relative paths are resolved against (GITHUB_WORKSPACE). */
  workspace: string;
  platforms: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
}

/** What `resolveImages` needs to know about the file system (tests pass a real temp dir). */
export interface FileProbe {
  kind(path: string): 'file' | 'dir' | 'missing';
}

const KNOWN_KEYS = ['name', 'context', 'dockerfile', 'target', 'build-args', 'platforms', 'labels', 'tags', 'repository'] as const;

// The OCI distribution spec's grammar: path components of lowercase alphanumerics joined by
// one separator (".", "_", "__" or dashes), components joined by "/"; tags are at most 128 of
// [A-Za-z0-9_.-], not starting with "." or "-".
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const IMAGE_NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// host[:port] then optional path, e.g. ghcr.io/dotmac, 127.0.0.1:5000, registry.example.com/a/b.
const REGISTRY = new RegExp(
  `^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?(?:/${PATH_COMPONENT})*$`,
);
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isValidImageName(name: string): boolean {
  return name.length <= 255 && IMAGE_NAME.test(name);
}

/** `input "tags"`-style check for tags the user typed; derived tags are sanitized instead. */
export function checkTags(subject: string, tags: readonly string[]): string[] {
  for (const t of tags) {
    if (!isValidTag(t)) {
      throw new ConfigurationError(
        subject,
        `tag "${t}" has characters a registry rejects`,
        'a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with "." or "-"',
      );
    }
  }
  return [...new Set(tags)];
}

export function checkRegistry(input: string, value: string): string {
  const v = value.replace(/\/+$/, '');
  if (v && !REGISTRY.test(v)) {
    throw new ConfigurationError(
      `input "${input}"`,
      `is not a registry with an optional namespace, got "${value}"`,
      'use e.g. ghcr.io/my-org, 123456789012.dkr.ecr.eu-west-1.amazonaws.com or 127.0.0.1:5000',
    );
  }
  return v;
}

/** The host part of a registry value, which is what `login` talks to. */
export function registryHost(registry: string): string {
  return registry.split('/')[0] ?? registry;
}

/** Parses `KEY=VALUE` lines (build args, labels) from an action input. */
export function parseKeyValues(input: string, lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ConfigurationError(`input "${input}"`, `"${line}" is not KEY=VALUE`, 'write one KEY=VALUE per line');
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

/** Parses the YAML list of images (inline input or file content) into raw entries. */
export function parseImageList(text: string, source: ImageSource): { entry: Record<string, unknown>; source: ImageSource }[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const line = err.linePos?.[0]?.line;
      throw new ConfigurationError(
        subjectOf(source, line),
        `is not valid YAML: ${err.message.split('\n')[0]}`,
        'write a YAML list of images, each with at least a name',
        locationOf(source, line),
      );
    }
    throw err;
  }
  // A file may also wrap the list as `images: [...]`, like a compose or bake file.
  if (source.kind === 'file' && doc && typeof doc === 'object' && !Array.isArray(doc) && 'images' in doc)
    doc = (doc as { images: unknown }).images;
  if (!Array.isArray(doc) || doc.length === 0) {
    throw new ConfigurationError(
      subjectOf(source),
      'must be a non-empty YAML list of images',
      'e.g. "- name: api\\n  context: apps/api"',
      locationOf(source),
    );
  }
  return doc.map((entry, i) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigurationError(
        subjectOf(source),
        `entry ${i + 1} is not a mapping`,
        'each entry needs at least "name:"',
        locationOf(source),
      );
    }
    return { entry: entry as Record<string, unknown>, source };
  });
}

/**
 * Validates and resolves every image before anything is built: a name that is a valid repository
 * path and unique, an existing context and Dockerfile, valid tags, platforms and args. The first
 * problem found is thrown as one ConfigurationError naming the image, the value and the fix.
 *
 * Paths: `context` is relative to the workspace; `dockerfile` is relative to the context (as in
 * compose and bake files), default `Dockerfile`.
 */
export function resolveImages(
  raw: readonly { entry: Record<string, unknown>; source: ImageSource }[],
  defaults: ImageDefaults,
  fs: FileProbe,
): ImageSpec[] {
  const seen = new Set<string>();
  return raw.map(({ entry, source }, i) => {
    const label = typeof entry.name === 'string' && entry.name ? `image "${entry.name}"` : `image ${i + 1}`;
    const fail = (message: string, hint?: string): never => {
      throw new ConfigurationError(`${subjectOf(source)}: ${label}`, message, hint, locationOf(source));
    };
    for (const key of Object.keys(entry)) {
      if (!(KNOWN_KEYS as readonly string[]).includes(key)) fail(`unknown key "${key}"`, `use only: ${KNOWN_KEYS.join(', ')}`);
    }
    const name = str(entry.name, 'name', fail);
    if (!name) fail('has no "name"', 'give every image a name, e.g. "name: isp-ops-app"');
    if (!isValidImageName(name))
      fail(
        `name "${name}" is not a valid image name`,
        'use lowercase letters, digits and single ".", "_" or "-" between them (and "/" between path parts)',
      );
    if (seen.has(name)) fail(`name "${name}" appears more than once`, 'give every image a unique name: it keys the outputs');
    seen.add(name);

    const repository = str(entry.repository, 'repository', fail) || (defaults.registry ? `${defaults.registry}/${name}` : '');
    if (!repository) fail('has no registry to push to', 'set the "registry" input (e.g. ghcr.io/my-org) or "repository" on the image');
    if (entry.repository !== undefined) checkRepository(repository, fail);

    const context = resolve(defaults.workspace, str(entry.context, 'context', fail) || '.');
    if (fs.kind(context) !== 'dir')
      fail(
        `context directory ${show(defaults.workspace, context)} does not exist`,
        'set "context" to a directory relative to the workspace',
      );
    const dockerfileRel = str(entry.dockerfile, 'dockerfile', fail) || 'Dockerfile';
    const dockerfile = isAbsolute(dockerfileRel) ? dockerfileRel : join(context, dockerfileRel);
    if (fs.kind(dockerfile) !== 'file') {
      fail(
        `Dockerfile ${show(defaults.workspace, dockerfile)} does not exist`,
        '"dockerfile" is relative to the image\'s context; check both',
      );
    }

    const target = str(entry.target, 'target', fail) || undefined;
    if (target && !TARGET.test(target)) fail(`target "${target}" is not a valid stage name`, 'use the name after "AS" in a FROM line');

    const platforms = entry.platforms === undefined ? defaults.platforms : strList(entry.platforms, 'platforms', fail);
    for (const p of platforms)
      if (!PLATFORM.test(p)) fail(`platform "${p}" is not os/arch[/variant]`, 'e.g. linux/amd64 or linux/arm64/v8');

    const buildArgs = { ...defaults.buildArgs, ...strMap(entry['build-args'], 'build-args', fail) };
    for (const k of Object.keys(buildArgs))
      if (!ARG_NAME.test(k)) fail(`build arg "${k}" is not a valid ARG name`, 'use letters, digits and "_"');
    const labels = { ...defaults.labels, ...strMap(entry.labels, 'labels', fail) };

    const tags = strList(entry.tags ?? [], 'tags', fail);
    for (const t of tags)
      if (!isValidTag(t))
        fail(`tag "${t}" has characters a registry rejects`, 'a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with "." or "-"');

    return { name, repository, context, dockerfile, target, buildArgs, labels, platforms: [...new Set(platforms)], tags };
  });
}

function checkRepository(repository: string, fail: (m: string, h?: string) => never): void {
  const [host, ...path] = repository.split('/');
  const looksLikeHost = path.length > 0 && /[.:]|^localhost$/.test(host ?? '');
  const rest = looksLikeHost ? path.join('/') : repository;
  if (!isValidImageName(rest) || (looksLikeHost && !REGISTRY.test(host ?? ''))) {
    fail(`repository "${repository}" is not a valid repository`, 'use host/path without a tag, e.g. ghcr.io/dotmac/isp-ops-app');
  }
}

function subjectOf(source: ImageSource, line?: number): string {
  return source.kind === 'input' ? `input "${source.input}"` : `${source.path}${line ? `:${line}` : ''}`;
}

function locationOf(source: ImageSource, line?: number): ConfigurationError['location'] {
  return source.kind === 'file' ? { file: source.path, line } : undefined;
}

function show(workspace: string, path: string): string {
  const rel = relative(workspace, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function str(v: unknown, key: string, fail: (m: string, h?: string) => never): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fail(`"${key}" must be a string`, `write ${key}: <value>`);
}

function strList(v: unknown, key: string, fail: (m: string, h?: string) => never): string[] {
  if (typeof v === 'string')
    return v
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(v)) return v.map((x) => str(x, key, fail)).filter(Boolean);
  return fail(`"${key}" must be a list`, `write ${key}: [a, b] or a comma-separated string`);
}

function strMap(v: unknown, key: string, fail: (m: string, h?: string) => never): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const item of v) {
      const s = str(item, key, fail);
      const eq = s.indexOf('=');
      if (eq <= 0) fail(`"${key}" entry "${s}" is not KEY=VALUE`, `write ${key} as a mapping or a list of KEY=VALUE`);
      out[s.slice(0, eq)] = s.slice(eq + 1);
    }
    return out;
  }
  if (typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, x === null ? '' : str(x, `${key}.${k}`, fail)]),
    );
  }
  return fail(`"${key}" must be a mapping`, `write ${key}: { KEY: value }`);
}
