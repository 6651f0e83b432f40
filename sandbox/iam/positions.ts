/** A place in a policy document's text: line and column, both from 1. */
export interface Position {
  Line: number;
  Column: number;
}

/**
 * Where each statement of a policy document starts (its `{`) and ends (its `}`), in document order, as
 * SimulatePrincipalPolicy reports a matched statement's StartPosition and EndPosition. A document whose top-level
 * `Statement` is one object has one statement. Assumes valid JSON (IAM checked it when it was stored or given).
 */
export function statementPositions(text: string): { start: Position; end: Position }[] {
  const found: { start: Position; end: Position }[] = [];
  let line = 1;
  let column = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let lastString = "";
  let afterStatementKey = false;
  /** The depth of the Statement value (an object, or the array of them) and of the statements in it; 0 outside. */
  let containerDepth = 0;
  let statementDepth = 0;
  let open: Position | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      line++;
      column = 0;
      continue;
    }
    column++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') {
        inString = false;
        lastString = JSON.parse(text.slice(stringStart, i + 1)) as string;
      }
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") continue;
    if (c === ":" && depth === 1 && lastString === "Statement") {
      afterStatementKey = true;
      continue;
    }
    const startsStatementValue = afterStatementKey;
    afterStatementKey = false;
    if (c === '"') {
      inString = true;
      stringStart = i;
    } else if (c === "{" || c === "[") {
      depth++;
      if (startsStatementValue) {
        containerDepth = depth;
        statementDepth = c === "{" ? depth : depth + 1;
      }
      if (c === "{" && depth === statementDepth) open = { Line: line, Column: column };
    } else if (c === "}" || c === "]") {
      if (c === "}" && depth === statementDepth && open) {
        found.push({ start: open, end: { Line: line, Column: column } });
        open = undefined;
      }
      if (depth === containerDepth) {
        containerDepth = 0;
        statementDepth = 0;
      }
      depth--;
    }
  }
  return found;
}
