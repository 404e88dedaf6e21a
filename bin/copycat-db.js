#!/usr/bin/env node
// The AWS SDK warns on every run that its 2027 releases will need Node 22; the README says so once, and a
// multi-line warning on stderr would break line-per-event logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../dist/src/cli/main.js');
await main(process.argv);
