/**
 * Debian control-file (deb822) stanzas, as used by Packages indexes: `Field: value`
 * lines, continuation lines starting with whitespace, stanzas separated by blank
 * lines. Only what the lock needs: single-line values keep their text, multi-line
 * values keep their first line (Description is never read). A stanza with none of
 * the wanted fields is dropped.
 */
export type Stanza = ReadonlyMap<string, string>;

export function parseStanzas(text: string, fields?: ReadonlySet<string>): Stanza[] {
  const stanzas: Stanza[] = [];
  let current = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size) stanzas.push(current);
      current = new Map();
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon);
    // A full Packages index is tens of MB: keep only the fields the caller reads.
    if (!fields || fields.has(field)) current.set(field, line.slice(colon + 1).trim());
  }
  if (current.size) stanzas.push(current);
  return stanzas;
}
