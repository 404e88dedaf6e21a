#!/usr/bin/env node
// The AWS SDK warns on every run that its 2027 releases will need Node 22; the README says so once, and a
// multi-line warning on stderr would break line-per-event logs.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  const name = warning instanceof Error ? warning.name : type;
  if (name === 'NodeVersionSupportWarning') return;
  emitWarning(warning, ...rest);
};

const { main } = await import('../dist/src/cli/main.js');
await main(process.argv);
