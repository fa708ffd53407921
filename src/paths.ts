// Where the agent's files are: the nearest directory above this module that holds package.json. The same answer
// for the sources (src/…), and for the bundle (dist/cli.js), which inlines every module into one file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}

export const packageRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)));
