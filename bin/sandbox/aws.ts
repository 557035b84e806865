export { BOOTSTRAP_CALLS, bootstrapAdmin, region, stsAnswer, type KeyPair } from '../local/awsAdmin.js';
