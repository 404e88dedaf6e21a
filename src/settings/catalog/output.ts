/** How a command prints what it found. */
import type { Setting } from '../setting.js';

export const JSON_OUTPUT: Setting<boolean> = {
  holds: 'print JSON, for scripts',
  commands: ['list', 'verify', 'check'],
  flag: '--json',
  variants: {
    list: { help: 'print one JSON array, for scripts' },
    verify: { help: 'print the report as one JSON object' },
    check: { help: 'print the report as one JSON object' },
  },
};
