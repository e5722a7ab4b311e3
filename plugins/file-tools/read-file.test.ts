import { rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { bootTestKernel } from '../../sdk/testing.ts';
import { builtinPlugins } from '../index.ts';

const boot = () => bootTestKernel({ include: ['workspace-guard', 'file-tools'], builtins: builtinPlugins });

// Line n of the big file: 50 bytes with its newline, its number in it.
const LINES = 1_000_000;
const lineText = (n: number) => `line ${String(n).padStart(7, '0')} ${'x'.repeat(36)}`;
const numbered = (n: number, text = lineText(n)) => `${String(n).padStart(6)}\t${text}`;

function writeBigFile(file: string): void {
  // The same 50-byte line a million times, then each line's number written into its place.
  const big = Buffer.alloc(LINES * 50, `${lineText(0)}\n`);
  for (let n = 1; n <= LINES; n++) big.write(String(n).padStart(7, '0'), (n - 1) * 50 + 5, 'latin1');
  writeFileSync(file, big);
}

describe('read_file on a 50 MB file', () => {
  test('pages to any line, the last included, and gives the true line count and size', async () => {
    const h = await boot();
    try {
      const file = join(h.project, 'big.log');
      writeBigFile(file);
      expect(statSync(file).size).toBe(50_000_000);
      // No offset or limit: the first 2000 lines, how many more there are and how to go on.
      const first = String((await h.callTool('read_file', { path: 'big.log' })).content).split('\n');
      expect(first).toHaveLength(2001);
      expect(first[0]).toBe(numbered(1));
      expect(first[1999]).toBe(numbered(2000));
      expect(first[2000]).toBe(
        `[lines 1-2000 of ${LINES} (50000000 bytes); ${LINES - 2000} more lines: read on with offset 2001]`,
      );
      // Past the 10 MB the tool used to stop at.
      const middle = await h.callTool('read_file', { path: 'big.log', offset: 600_000, limit: 2 });
      expect(middle.content).toBe(
        `${numbered(600_000)}\n${numbered(600_001)}\n[lines 600000-600001 of ${LINES} (50000000 bytes); 399999 more lines: read on with offset 600002]`,
      );
      const last = await h.callTool('read_file', { path: 'big.log', offset: LINES - 1, limit: 10 });
      expect(last.content).toBe(
        `${numbered(LINES - 1)}\n${numbered(LINES)}\n[lines 999999-1000000 of ${LINES} (50000000 bytes)]`,
      );
      const past = await h.callTool('read_file', { path: 'big.log', offset: LINES + 1 });
      expect(past.isError).toBe(true);
      expect(past.content).toContain(`big.log has ${LINES} lines; offset ${LINES + 1} is past the end`);
    } finally {
      await h.shutdown();
      rmSync(dirname(h.project), { recursive: true, force: true });
    }
  });

  test('a line longer than 2000 characters is cut with a marker giving its length; the lines after it read on', async () => {
    const h = await boot();
    try {
      // A 5 MB line between two short ones, and a line of two-byte characters; no newline at the end.
      writeFileSync(
        join(h.project, 'long.txt'),
        `first\n${'y'.repeat(5_000_000)}\n${'é'.repeat(3000)}\nlast`,
      );
      const r = String((await h.callTool('read_file', { path: 'long.txt' })).content).split('\n');
      expect(r).toEqual([
        '     1\tfirst',
        `     2\t${'y'.repeat(2000)}… [line cut; the whole line is 5000000 bytes]`,
        `     3\t${'é'.repeat(2000)}… [line cut; the whole line is 6000 bytes]`,
        '     4\tlast',
      ]);
      const tail = await h.callTool('read_file', { path: 'long.txt', offset: 4 });
      expect(tail.content).toBe('     4\tlast\n[lines 4-4 of 4 (5006012 bytes)]');
    } finally {
      await h.shutdown();
      rmSync(dirname(h.project), { recursive: true, force: true });
    }
  });
});
