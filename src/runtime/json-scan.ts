/**
 * A strict JSON scanner for files a person edits (configs): it checks the syntax so that every error has a
 * position and a plain reason (JSON.parse gives neither reliably), and records where each key and value starts,
 * by path, so that a later check of the parsed value can say "line 12, column 5". Values still come from
 * JSON.parse; this only reads.
 *
 * @example
 * const scan = scanJson('{\n  "f": "one"\n}');
 * if (scan.ok) lineColumn(text, scan.locate(['f'])!); // { line: 2, column: 8 }
 */

/** The scan of one text: where things are, or the first syntax error. */
export type JsonScan =
  | { readonly ok: true; locate(path: readonly (string | number)[], key?: boolean): number | undefined }
  | { readonly ok: false; readonly offset: number; readonly problem: string };

/** Nesting deeper than this is not a topology. */
const MAX_JSON_DEPTH = 64;

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Scans `text` (bounded: the caller limits its size; nesting is limited here). */
export function scanJson(text: string): JsonScan {
  const values = new Map<string, number>();
  const keys = new Map<string, number>();
  let at = 0;
  const fail = (problem: string): never => {
    throw new JsonSyntax(at, problem);
  };
  const ws = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const seen = (): string => (at >= text.length ? 'the end of the file' : `'${text[at]}'`);
  const str = (): string => {
    const start = at++;
    let out = '';
    while (at < text.length && text[at] !== '"') {
      const c = text[at]!;
      if (c < ' ') fail('a control character inside a string (write \\n, \\t)');
      if (c === '\\') {
        const e = text[at + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6)))
            fail('a \\u escape needs four hex digits');
          out += String.fromCharCode(Number.parseInt(text.slice(at + 2, at + 6), 16));
          at += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail(`an unknown escape '\\${e ?? ''}' in a string`);
        out += e;
        at += 2;
        continue;
      }
      out += c;
      at++;
    }
    if (at >= text.length) {
      at = start;
      fail('a string that is never closed');
    }
    at++;
    return out;
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (m === null || m[0] === '-') fail(`expected a value, found ${seen()}`);
    at += m![0].length;
  };
  const value = (path: (string | number)[], depth: number): void => {
    if (depth > MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    ws();
    values.set(JSON.stringify(path), at);
    const c = text[at];
    if (c === '{') {
      at++;
      ws();
      if (text[at] === '}') {
        at++;
        return;
      }
      for (;;) {
        ws();
        if (text[at] !== '"') fail(`expected a key in double quotes, found ${seen()}`);
        const keyAt = at;
        const key = str();
        keys.set(JSON.stringify([...path, key]), keyAt);
        ws();
        if (text[at] !== ':') fail(`expected ':' after the key "${key}", found ${seen()}`);
        at++;
        value([...path, key], depth + 1);
        ws();
        if (text[at] === ',') {
          at++;
          ws();
          if (text[at] === '}') fail("a comma before '}' (JSON allows no trailing comma)");
          continue;
        }
        if (text[at] === '}') {
          at++;
          return;
        }
        fail(`expected ',' or '}' after the value of "${key}", found ${seen()}`);
      }
    }
    if (c === '[') {
      at++;
      ws();
      if (text[at] === ']') {
        at++;
        return;
      }
      for (let i = 0; ; i++) {
        value([...path, i], depth + 1);
        ws();
        if (text[at] === ',') {
          at++;
          ws();
          if (text[at] === ']') fail("a comma before ']' (JSON allows no trailing comma)");
          continue;
        }
        if (text[at] === ']') {
          at++;
          return;
        }
        fail(`expected ',' or ']' after an array element, found ${seen()}`);
      }
    }
    if (c === '"') return void str();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return;
      }
    }
    if (c === "'") fail('a string in single quotes (JSON needs double quotes)');
    num();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) at = 1; // a byte-order mark
    value([], 0);
    ws();
    if (at < text.length) fail(`unexpected ${seen()} after the end of the top-level value`);
  } catch (e) {
    if (e instanceof JsonSyntax) return { ok: false, offset: e.offset, problem: e.problem };
    throw e;
  }
  return {
    ok: true,
    locate: (path, key) => (key ? keys : values).get(JSON.stringify(path)),
  };
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
