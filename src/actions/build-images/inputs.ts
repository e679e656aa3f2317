import type { BuildImagesConfig } from '../../build/release.ts';
import { checkRegistry, parseKeyValues } from '../../build/spec.ts';
import type { Inputs } from '../common/inputs.ts';

export const BUILDERS = ['buildx', 'buildah'] as const;
const TRI = ['auto', 'true', 'false'] as const;

/** Reads every input of build-images/action.yml once, unconditionally, into the typed config. */
export function parseInputs(inputs: Inputs): BuildImagesConfig {
  inputs = inputs.withDefaults('build-images');
  const imagesText = inputs.string('images');
  const imagesFile = inputs.string('images-file');
  const registry = checkRegistry('registry', inputs.string('registry'));
  const username = inputs.string('username');
  const password = inputs.secret('password');
  const builder = inputs.oneOf('builder', BUILDERS);
  const push = inputs.oneOf('push', TRI);
  const latest = inputs.oneOf('latest', TRI);
  const tags = inputs.list('tags');
  const platforms = inputs.list('platforms');
  const buildArgs = parseKeyValues('build-args', inputs.lines('build-args'));
  const labels = parseKeyValues('labels', inputs.lines('labels'));
  const cacheFrom = inputs.lines('cache-from');
  const cacheTo = inputs.lines('cache-to');
  const concurrency = inputs.int('concurrency', { min: 1, max: 16 });
  const failFast = inputs.bool('fail-fast');
  const tlsVerify = inputs.bool('tls-verify');

  return {
    images: { inline: imagesText, file: imagesFile },
    registry,
    username,
    password,
    builder,
    push,
    latest,
    tags,
    platforms,
    buildArgs,
    labels,
    cacheFrom,
    cacheTo,
    concurrency,
    failFast,
    tlsVerify,
  };
}
