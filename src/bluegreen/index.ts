export { deployBlueGreen, rollbackBlueGreen } from './deploy.ts';
export type {
  BlueGreenCluster,
  BlueGreenOutcome,
  BlueGreenPorts,
  BlueGreenRequest,
  BlueGreenRollbackRequest,
  BlueGreenStatus,
  ColorTarget,
  OldColorAction,
} from './deploy.ts';
export { COLORS, FIELD_MANAGER, PREVIOUS_COLOR_ANNOTATION, colorRelease, isColor, otherColor, versionFingerprint } from './colors.ts';
export type { Color } from './colors.ts';
