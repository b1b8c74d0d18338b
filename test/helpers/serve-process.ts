import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the URL once a spawned `restjwt serve` prints its listening line on stderr; rejects when it exits
 * first or takes longer than `timeoutMs`. `stderr()` returns everything it printed so far.
 */
export function waitForListening(child: ChildProcess, exited: Promise<unknown>, timeoutMs: number): { url: Promise<string>; stderr: () => string } {
  let stderr = '';
  const url = new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve did not start within ${timeoutMs / 1000} s:\n${stderr}`)), timeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      const m = /restjwt listening on (http:\/\/\S+)/.exec(stderr);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      rej(new Error(`serve exited before listening:\n${stderr}`));
    });
  });
  return { url, stderr: () => stderr };
}
