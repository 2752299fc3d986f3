import { readFile } from 'node:fs/promises';

/**
 * Lines of a text file for an error message: the last `tail` lines, or with `head` the first
 * ones, each cut to 400 characters; `''` when the file is missing or empty.
 *
 * @internal
 */
export async function readLogLines(file: string, pick: { head: number } | { tail: number }): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trimEnd().split('\n');
  const picked = 'head' in pick ? lines.slice(0, pick.head) : lines.slice(-pick.tail);
  return picked
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
    .join('\n')
    .trim();
}
