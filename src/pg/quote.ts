/** `"name"` with embedded quotes doubled: safe for any identifier, whatever its case or characters. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export const qualifiedName = (t: { schema: string; name: string }): string => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** `'text'` with embedded quotes doubled, for a server with standard_conforming_strings on (the default since 9.1). */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
