/**
 * README sections as runnable commands: tests run the commands the README shows, so the README
 * cannot drift from what works.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../tools/temporal-cli.js';

/** A section's text, from its heading to the next heading of the same level or higher. */
export function readmeSection(heading: string): string {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has no "${heading}" section`);
  // A section ends at the next heading of its level or higher.
  const level = heading.indexOf(' ');
  const end = text.slice(start + heading.length + 2).search(new RegExp(`\\n#{1,${level}} `));
  return text.slice(start, end < 0 ? undefined : start + heading.length + 2 + end);
}

/** The bodies of the fenced blocks of one language in `md`. */
export function fencedBlocks(md: string, lang: string): string[] {
  return [...md.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);
}

/**
 * POSIX shell words for the plain commands a README holds: single quotes, double quotes, backslash
 * escapes and `#` comments. Expansions, globs, pipes and redirections are refused rather than guessed,
 * so a README command that needs a shell fails here loudly.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '$' || line[i] === '`') throw new Error(`README commands must not need shell expansion: ${line}`);
        if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++;
        word += line[i];
      }
      if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
      inWord = true;
    } else if (c === '\\') {
      word += line[++i] ?? '';
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else if ('$`;|&<>(){}*?[]'.includes(c)) {
      throw new Error(`README commands must be plain commands (found ${c} outside quotes): ${line}`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
