/**
 * Reading a new password: from stdin for scripts (`--password-stdin`), or typed twice on a terminal without echo.
 * Passwords never come from arguments, which other users can see in the process list.
 */
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { CliError } from './errors.js';

/**
 * Reads all of `input` and strips ONE trailing newline (`\n` or `\r\n`), so `echo pw | restjwt …` and a file that
 * ends with a newline both give `pw`, while a password that really ends in whitespace keeps it.
 */
export async function readPasswordFromStream(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A terminal prompt whose echo can be switched off while the password is typed. */
async function promptHidden(questions: readonly string[]): Promise<string[]> {
  let muted = false;
  // readline echoes typed characters to its output; this output drops them while `muted` is set.
  const output = new Writable({
    write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void) {
      if (!muted) process.stderr.write(chunk, encoding);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const abort = new AbortController();
  // Ctrl-C or Ctrl-D must end the prompt instead of leaving a pending question behind.
  rl.on('SIGINT', () => abort.abort());
  rl.on('close', () => abort.abort());
  const answers: string[] = [];
  try {
    for (const question of questions) {
      process.stderr.write(question);
      muted = true;
      try {
        answers.push(await rl.question('', { signal: abort.signal }));
      } catch {
        throw new CliError('Cancelled; no password was set.');
      } finally {
        muted = false;
        process.stderr.write('\n');
      }
    }
  } finally {
    rl.close();
  }
  return answers;
}

/**
 * The new password for `username`: from stdin when `fromStdin`, else prompted twice on the terminal.
 *
 * @throws CliError when the password is empty, the two entries differ, or there is no terminal to prompt on.
 */
export async function readNewPassword(username: string, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    if (process.stdin.isTTY) process.stderr.write('Reading the password from stdin; end it with Ctrl-D.\n');
    password = await readPasswordFromStream(process.stdin);
  } else {
    if (!process.stdin.isTTY) {
      throw new CliError('No terminal to ask for the password on. Pass --password-stdin and pipe the password in.');
    }
    const [first = '', second = ''] = await promptHidden([`Password for ${username}: `, 'Password (again): ']);
    if (first !== second) throw new CliError('The two passwords differ; nothing was changed. Run the command again.');
    password = first;
  }
  if (password === '') throw new CliError('The password is empty; nothing was changed. Give a non-empty password.');
  return password;
}
