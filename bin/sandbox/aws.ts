export { BOOTSTRAP_CALLS, bootstrapAdmin, region, stsAnswer, type KeyPair } from '../../test/support/awsAdmin';
