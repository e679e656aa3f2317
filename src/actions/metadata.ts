// The action.yml metadata built into the bundle (names, descriptions, defaults): metadata.json is
// generated from every action.yml by scripts/metadata.mjs (npm run build); do not edit it by hand.
import metadata from './metadata.json' with { type: 'json' };

export interface InputMetadata {
  description: string;
  required: boolean;
  default?: string;
}
export interface ActionMetadata {
  description: string;
  inputs: Record<string, InputMetadata>;
}
export const ACTION_METADATA: Record<string, ActionMetadata> = metadata;
