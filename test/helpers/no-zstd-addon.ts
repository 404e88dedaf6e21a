/**
 * Loaded with `node --import` (through NODE_OPTIONS): the zstd-napi addon's binary fails to load, as a build that did
 * not compile or a binary for another platform does, while every other module loads as usual.
 */
const dlopen = process.dlopen.bind(process);
process.dlopen = (module: object, filename: string, flags?: number): void => {
  if (filename.includes('zstd-napi')) throw new Error(`${filename}: invalid ELF header (simulated)`);
  return flags === undefined ? dlopen(module, filename) : dlopen(module, filename, flags);
};
