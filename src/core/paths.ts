import path from 'node:path';
import { ConfigurationError } from './errors.ts';

/**
 * Joins a relative path onto `baseDir`, refusing anything that would leave it: absolute paths,
 * `..` that climbs above the base, NUL bytes. Returns the joined path (posix separators).
 */
export function containedPath(subject: string, relative: string, baseDir: string): string {
  const problem =
    relative === ''
      ? 'is empty'
      : relative.includes('\0')
        ? 'contains a NUL byte'
        : path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative)
          ? 'is absolute'
          : undefined;
  const normal = path.posix.normalize(relative.replaceAll('\\', '/'));
  const escapes = normal === '..' || normal.startsWith('../');
  if (problem || escapes) {
    throw new ConfigurationError(
      subject,
      `path "${relative}" ${problem ?? `leaves the base directory "${baseDir}"`}`,
      'use a path relative to the base directory, without ".." above it',
    );
  }
  return path.posix.join(baseDir.replaceAll('\\', '/') || '.', normal);
}
