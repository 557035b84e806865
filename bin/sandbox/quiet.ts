// Imported first by bin/sandbox.ts, before modules that build AWS clients at import time.
// The AWS SDK's own switch for its "releases after January 2027 need Node 22" warning, which
// would otherwise open the sandbox's account on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
