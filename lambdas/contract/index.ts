/** The contract between deploy time (lib/) and run time (lambdas/, bin/): no AWS SDK, no CDK. */
export * from './vocabulary.js';
export * from './settings.js';
export * from './testing.js';
export * from './preflight.js';
