/** `npm run docs`: rewrites the README's settings table from the declarations (test/deploy.test.ts compares them). */
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../src/settings/table.js';

const readme = new URL('../../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withSettingsTable(before);
writeFileSync(readme, after);
process.stdout.write(after === before ? 'README.md: the settings table is up to date\n' : 'README.md: rewrote the settings table\n');
