export * from './errors.js';
export * from './types.js';
export { createRotationHandler, handlerDefaults, type RotationHandler } from './handler.js';
export { runStep, validateEvent, type EngineDeps, type StepOutcome } from './engine.js';
export { readSettings, defaults as settingsDefaults, type Settings } from './settings.js';
export { decodeJson, parseWith } from './secretValue.js';
export { RotationCache } from './rotationCache.js';
export { Redactor, REDACTED } from './redact.js';
