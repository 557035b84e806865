export * from './errors';
export * from './types';
export { createRotationHandler, handlerDefaults, type RotationHandler } from './handler';
export { runStep, validateEvent, type EngineDeps, type StepOutcome } from './engine';
export { readSettings, defaults as settingsDefaults, type Settings } from './settings';
export { decodeJson, parseWith } from './secretValue';
export { RotationCache } from './rotationCache';
export { Redactor, REDACTED } from './redact';
