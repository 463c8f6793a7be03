/**
 * Reading a password for a CLI command: typed at a terminal without echo, or piped on stdin
 * (`printf '%s\n' "$PASSWORD" | atrium bootstrap …`), never from an argument (which `ps` and shell history
 * would show).
 */
import type { Readable, Writable } from 'node:stream';

/** stdin as the CLI sees it: a terminal (with raw mode) or a pipe. */
export type PasswordInput = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export class PasswordInputError extends Error {}

/** The longest input read from a pipe; a password is at most 256 characters (1 KiB of UTF-8). */
const MAX_PIPED_BYTES = 4096;

/**
 * All of a piped stdin, minus one trailing line break (what `echo` and `printf '%s\n'` add). Anything
 * else — leading or trailing spaces included — is part of the password.
 */
export async function readPipedPassword(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_PIPED_BYTES) throw new PasswordInputError('the password on stdin is too long');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Prompts on `output` and reads one line from a terminal in raw mode, echoing nothing. Enter ends the
 * line; Backspace deletes; Ctrl-C and Ctrl-D on an empty line abort.
 */
export function promptHidden(input: PasswordInput, output: Writable, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onEnd = () => finish(new PasswordInputError('no password entered'));
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new PasswordInputError('cancelled'));
        if (char === '\u0004') {
          if (typed === '') return finish(new PasswordInputError('no password entered'));
          continue;
        }
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char >= ' ') typed += char;
      }
    };
    output.write(prompt);
    input.setRawMode?.(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/**
 * The new password: from a terminal, typed twice (no echo) and compared; from a pipe, the whole input.
 * `fromStdin` forces the pipe behaviour even on a terminal (`--password-stdin`).
 */
export async function readNewPassword(input: PasswordInput, output: Writable, options: { fromStdin?: boolean } = {}): Promise<string> {
  if (!input.isTTY || options.fromStdin || !input.setRawMode) {
    const password = await readPipedPassword(input);
    if (password === '') throw new PasswordInputError('no password on stdin');
    return password;
  }
  const password = await promptHidden(input, output, 'Password: ');
  const again = await promptHidden(input, output, 'Repeat password: ');
  if (password !== again) throw new PasswordInputError('the passwords do not match');
  return password;
}
