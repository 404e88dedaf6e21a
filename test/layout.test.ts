/**
 * The module boundaries of issue #12, read from the import statements of src/**: a stage imports nothing from another
 * stage (they meet only in src/chain.ts, src/restore-sink.ts and the operations) nor from the layers that compose stages, and only the CLI
 * knows commander.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

const STAGE_FOLDERS = ['sources', 'transforms', 'sinks'];
/** What composes or drives stages: a stage that imported it would depend on its own users. */
const ABOVE_STAGES = ['cli', 'operations', 'repository', 'settings', 'config', 'chain', 'restore-sink', 'pipeline'];

/** One src module: its path below src/ (`sinks/pg-restore/index.ts`) and its text. */
interface Module {
  readonly path: string;
  readonly text: string;
}

function sourceModules(dir = ''): Module[] {
  return readdirSync(SRC + dir, { withFileTypes: true }).flatMap((entry) => {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return sourceModules(path);
    return entry.name.endsWith('.ts') ? [{ path, text: readFileSync(SRC + path, 'utf8') }] : [];
  });
}

/** Every module specifier a file loads: static imports and re-exports (also `import type`), and dynamic imports. */
function specifiers(text: string): string[] {
  const patterns = [/^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

/** A relative specifier as a path below src/ (`pg/child.ts`); undefined for a package. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** The stage unit a module belongs to: `sources/pg-dump` for a top-level file, `sinks/pg-restore` for a folder's files. */
function stageUnit(path: string): string | undefined {
  const [top, first, ...rest] = path.split('/');
  if (!STAGE_FOLDERS.includes(top!) || first === undefined) return undefined;
  return `${top}/${rest.length ? first : first.replace(/\.ts$/, '')}`;
}

function layoutViolations(modules: readonly Module[]): string[] {
  const violations: string[] = [];
  for (const { path, text } of modules) {
    const unit = stageUnit(path);
    for (const specifier of specifiers(text)) {
      if ((specifier === 'commander' || specifier.startsWith('commander/')) && !path.startsWith('cli/')) {
        violations.push(`${path} imports commander: only src/cli may`);
      }
      const target = resolve(path, specifier);
      if (!unit || !target) continue;
      const targetUnit = stageUnit(target);
      if (targetUnit && targetUnit !== unit) violations.push(`${path} imports ${specifier}: a stage imports no other stage (${targetUnit})`);
      const layer = ABOVE_STAGES.find((name) => target === `${name}.ts` || target.startsWith(`${name}/`));
      if (layer) violations.push(`${path} imports ${specifier}: a stage imports nothing from src/${layer}`);
    }
  }
  return violations;
}

test('stages import no other stage and nothing that composes stages; only the CLI imports commander', () => {
  const modules = sourceModules();
  assert.ok(modules.some((m) => m.path === 'sources/pg-dump.ts'), `no sources found under ${SRC}`);
  assert.deepEqual(layoutViolations(modules), []);
});

test('the layout rules catch each kind of breach', () => {
  const breaches: Module[] = [
    { path: 'sources/scaleway/source.ts', text: `import { pgDump } from '../pg-dump.js';` },
    { path: 'sinks/by-format.ts', text: `import type {\n  RestoreTarget,\n} from './pg-restore/index.js';` },
    { path: 'transforms/sha256.ts', text: `export { x } from './compression/index.js';` },
    { path: 'sinks/s3.ts', text: `const { pipeline } = await import('../pipeline.js');` },
    { path: 'sources/pg-parallel/index.ts', text: `import { settings } from '../../settings/index.js';` },
    { path: 'sinks/file.ts', text: `import '../config.js';` },
    { path: 'pg/child.ts', text: `import { Command } from 'commander';` },
  ];
  assert.equal(layoutViolations(breaches).length, breaches.length, layoutViolations(breaches).join('\n'));
  const allowed: Module[] = [
    { path: 'sinks/pg-restore/index.ts', text: `import { plainSqlGate } from './plain-sql-gate.js';\nimport { ChildInput } from '../../pg/child.js';` },
    { path: 'sources/scaleway/source.ts', text: `import { sniffHead } from '../../formats/archive.js';` },
    { path: 'chain.ts', text: `import { pgRestore } from './sinks/pg-restore/index.js';` },
    { path: 'cli/main.ts', text: `import { Command } from 'commander';` },
  ];
  assert.deepEqual(layoutViolations(allowed), []);
});
