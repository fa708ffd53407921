// Preloaded into the agent (node --import) for the capability experiment in docs/capabilities.md: the agent's
// own check reads a full effective set, so the kernel itself answers which capability it is missing.
import fs from 'node:fs';

const readFileSync = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  const text = readFileSync.call(this, file, ...rest);
  if (file === '/proc/self/status' && typeof text === 'string')
    return text.replace(/^CapEff:.*$/m, 'CapEff:\t000001ffffffffff');
  return text;
};
