import * as z from 'zod';
import { definePlugin, pickAnswer } from '../../sdk/index.ts';

/**
 * Answers permission asks at a prompt: each ask is written to stderr — the tool, what it wants to do (the
 * command, the path) and why it needs approval — and answered by the next line on stdin: `y` or `yes`
 * allows this one call, anything else — or the end of input — denies it. On by default when stdin and
 * stderr are a terminal (`icode -p` run by a person); `--permission-prompt-stdin` turns it on for
 * scripts that pipe the answers. Otherwise an ask in a headless run is a deny (the kernel's default).
 */
export default definePlugin({
  config: z.strictObject({ enabled: z.union([z.boolean(), z.literal('auto')]).default('auto') }),
  async activate(ctx) {
    const terminal = Boolean(process.stdin.isTTY && process.stderr.isTTY);
    if (ctx.config.enabled === false || (ctx.config.enabled === 'auto' && !terminal)) return;
    // Loaded only when on: most runs (scripts, the UI) never read answers here.
    const { createInterface } = await import('node:readline');
    const lines: string[] = [];
    const waiting: Array<(line: string | undefined) => void> = [];
    let ended = false;
    const reader = createInterface({ input: process.stdin });
    reader.on('line', (line) => (waiting.length ? waiting.shift()!(line) : lines.push(line)));
    reader.on('close', () => {
      ended = true;
      for (const w of waiting.splice(0)) w(undefined);
    });
    ctx.onDispose(() => reader.close());
    const next = () =>
      new Promise<string | undefined>((resolve) => {
        if (lines.length) resolve(lines.shift());
        else if (ended) resolve(undefined);
        else waiting.push(resolve);
      });
    ctx.hooks.permissionPrompt.tap(async (request, decision) => {
      const what = request.subjects?.values.length ? ` (${request.subjects.values.join(', ')})` : '';
      process.stderr.write(
        `icode: ${request.tool}${what} needs approval: ${decision.reason}. Allow once? [y/N] `,
      );
      const answer = (await next())?.trim().toLowerCase();
      // A terminal already shows what was typed.
      if (!terminal) process.stderr.write(`${answer ?? '(no answer)'}\n`);
      return answer === 'y' || answer === 'yes'
        ? { decision: 'allow', reason: 'approved on stdin' }
        : { decision: 'deny', reason: answer === undefined ? 'no answer on stdin' : 'denied on stdin' };
    });
    // AskUserQuestion is answered the same way: the next line; a number picks that option.
    void ctx.services
      .get('questions')
      .then((questions) =>
        questions.setAsker(async (q) => {
          const choices = q.options.map((o, i) => `  ${i + 1}. ${o}`).join('\n');
          process.stderr.write(`icode: the model asks: ${q.question}\n${choices ? `${choices}\n` : ''}> `);
          const line = await next();
          if (!terminal) process.stderr.write(`${line ?? '(no answer)'}\n`);
          return line === undefined ? undefined : pickAnswer(line, q.options);
        }),
      )
      .catch(() => {});
  },
});
