/**
 * test/differential/entry.ts as a program: importing it runs the differential test and prints its JSON line (it does
 * so everywhere but workerd). This module exports nothing on purpose: Bun serves an entry whose default export has
 * a `fetch` (as entry.ts's has, for workerd) instead of just running it.
 */
import '../differential/entry.js';
