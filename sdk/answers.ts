/**
 * An answer to AskUserQuestion as typed: option numbers ("2", or "1, 3" when several may be chosen) become
 * those options; anything else is the person's own words.
 */
export function pickAnswer(typed: string, options: string[]): string {
  const picks = typed.split(/[,\s]+/).filter(Boolean);
  const chosen = picks.map((n) => (/^\d+$/.test(n) ? options[Number(n) - 1] : undefined));
  return picks.length && chosen.every(Boolean) ? chosen.join(', ') : typed;
}
