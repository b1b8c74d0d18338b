// The build's second step: tsc compiles TypeScript only, so the server's static pages (demo, admin) are copied next
// to the compiled server, where it looks for them first (an installed package has dist/ but no src/).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/server/assets', { recursive: true, force: true });
cpSync('src/server/assets', 'dist/server/assets', { recursive: true });
