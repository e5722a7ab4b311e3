import type { ToolResultBlock } from '../../sdk/index.ts';

export type Content = { type: string; [key: string]: unknown };

/** Maps MCP result content to tool_result blocks: text, images, embedded resources; the rest as a note. */
export function toBlocks(content: Content[], maxChars: number): ToolResultBlock[] {
  const blocks: ToolResultBlock[] = [];
  let budget = maxChars;
  const text = (t: string) => {
    const cut =
      t.length > budget ? `${t.slice(0, Math.max(0, budget))}\n[output cut at ${maxChars} characters]` : t;
    budget -= t.length;
    if (budget + t.length > 0) blocks.push({ type: 'text', text: cut });
  };
  for (const c of content) {
    if (c.type === 'text') text(String(c.text));
    else if (c.type === 'image')
      blocks.push({
        type: 'image',
        source: { type: 'base64', media_type: String(c.mimeType), data: String(c.data) },
      });
    else if (c.type === 'resource') {
      const r = c.resource as { uri: string; text?: string; mimeType?: string; blob?: string };
      text(
        r.text !== undefined
          ? `[resource ${r.uri}]\n${r.text}`
          : `[resource ${r.uri}: ${r.mimeType ?? 'binary'}, ${r.blob?.length ?? 0} base64 characters, not shown]`,
      );
    } else if (c.type === 'resource_link')
      text(`[resource link ${String(c.uri)}${c.name ? ` (${String(c.name)})` : ''}]`);
    else text(`[${c.type} content, not shown]`);
  }
  return blocks;
}
