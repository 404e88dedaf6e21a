import { readFileSync } from 'node:fs';

/** The package's version, for --version, manifests and container headers. Compiled to dist/src: the root is two up. */
export const TOOL_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
