/** The contract between deploy time (lib/) and run time (lambdas/, bin/): no AWS SDK, no CDK. */
export * from './vocabulary';
export * from './settings';
export * from './testing';
