/**
 * Just enough of a POSIX shell lexer to tell, at a point in a script, whether a single-quoted
 * word inserted there would be one word of data to the shell. That is so only outside every
 * quote, substitution and expansion: `'...'` inserted inside `"..."`, `$(( ))`, `${ }`, a here
 * document or a comment is not a quoted word there, and a value holding `'` or a newline breaks
 * out. The lexer errs one way: where it is unsure, the place is not safe.
 *
 * No imports: bundled into workflow code (see references.ts).
 */

/** Why a place in a script is not a safe place for a quoted word; undefined when it is. */
export type ShellPlace =
  | undefined
  | 'single-quotes'
  | 'double-quotes'
  | 'ansi-c-quotes'
  | 'backquotes'
  | 'parameter-expansion'
  | 'arithmetic'
  | 'subscript'
  | 'comment'
  | 'here-document'
  | 'after-backslash'
  | 'after-dollar'
  | 'after-raw'
  | 'unknown';

type Frame =
  | { kind: 'code'; parens: number; closer: ')' | undefined }
  | { kind: 'double' }
  | { kind: 'single' }
  | { kind: 'ansi' }
  | { kind: 'backquote' }
  | { kind: 'param'; braces: number }
  | { kind: 'arith'; parens: number }
  | { kind: 'subscript'; brackets: number }
  | { kind: 'comment' }
  | { kind: 'heredoc'; delimiter: string; stripTabs: boolean; line: string };

const wordStartAfter = new Set(['', ' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/** Fed the script's literal text piece by piece; asked where it stands between pieces. */
export class ShellLexer {
  private frames: Frame[] = [{ kind: 'code', parens: 0, closer: undefined }];
  private previous = '';
  private escaped = false;
  /** Set once the lexer has lost track: nothing after it is a safe place. */
  private lost: 'unknown' | 'after-raw' | undefined;
  /** Here documents whose bodies start after the current line, in order. */
  private pendingHeredocs: { delimiter: string; stripTabs: boolean }[] = [];

  private get top(): Frame {
    return this.frames[this.frames.length - 1] as Frame;
  }

  /** Where the next piece would land if it were inserted now. */
  place(): ShellPlace {
    if (this.lost) return this.lost;
    if (this.escaped) return 'after-backslash';
    const top = this.top;
    switch (top.kind) {
      case 'code':
        return this.previous === '$' ? 'after-dollar' : undefined;
      case 'double':
        return 'double-quotes';
      case 'single':
        return 'single-quotes';
      case 'ansi':
        return 'ansi-c-quotes';
      case 'backquote':
        return 'backquotes';
      case 'param':
        return 'parameter-expansion';
      case 'arith':
        return 'arithmetic';
      case 'subscript':
        return 'subscript';
      case 'comment':
        return 'comment';
      case 'heredoc':
        return 'here-document';
    }
  }

  /** A single-quoted word was inserted: the shell is in the middle of a word, outside quotes. */
  insertedQuotedWord(): void {
    this.previous = "'";
  }

  /** Text the lexer cannot see was inserted (a raw reference): from here on nothing is known. */
  insertedUnknown(): void {
    this.lost ??= 'after-raw';
  }

  feed(text: string): void {
    for (let i = 0; i < text.length && !this.lost; i++) {
      i = this.step(text, i);
    }
  }

  /** Consumes the character at `i` (and any it needs to look at after it); returns the last index used. */
  private step(text: string, i: number): number {
    const c = text[i] as string;
    const next = text[i + 1];
    const top = this.top;
    const previous = this.previous;
    this.previous = c;
    if (this.escaped) {
      // A backslash-newline in code joins two lines: no here document starts there.
      this.escaped = false;
      return i;
    }
    switch (top.kind) {
      case 'single':
        if (c === "'") this.frames.pop();
        return i;
      case 'ansi':
        if (c === '\\') this.escaped = true;
        else if (c === "'") this.frames.pop();
        return i;
      case 'comment':
        if (c === '\n') {
          this.frames.pop();
          this.newline();
        }
        return i;
      case 'heredoc':
        this.heredocChar(top, c);
        return i;
      case 'backquote':
        if (c === '\\') this.escaped = true;
        else if (c === '`') this.frames.pop();
        return i;
      case 'double':
        if (c === '\\') this.escaped = true;
        else if (c === '"') this.frames.pop();
        else return this.expansion(text, i, c, next);
        return i;
      case 'arith':
        if (c === '(') top.parens++;
        else if (c === ')' && --top.parens < 0) {
          // `))` ends it; a lone `)` here is beyond this lexer.
          if (next === ')') {
            this.frames.pop();
            return i + 1;
          }
          this.lost = 'unknown';
        } else return this.expansion(text, i, c, next);
        return i;
      case 'subscript':
        // bash evaluates an array subscript (and `$[...]`) as arithmetic, quotes or not.
        if (c === '[') top.brackets++;
        else if (c === ']' && --top.brackets < 0) this.frames.pop();
        else return this.expansion(text, i, c, next);
        return i;
      case 'param':
        if (c === '\\') this.escaped = true;
        else if (c === '{') top.braces++;
        else if (c === '}' && --top.braces < 0) this.frames.pop();
        else if (c === "'") this.frames.push({ kind: 'single' });
        else if (c === '"') this.frames.push({ kind: 'double' });
        else return this.expansion(text, i, c, next);
        return i;
      case 'code':
        return this.code(top, text, i, c, next, previous);
    }
  }

  private code(
    top: Extract<Frame, { kind: 'code' }>,
    text: string,
    i: number,
    c: string,
    next: string | undefined,
    previous: string,
  ): number {
    if (c === '\\') {
      this.escaped = true;
      return i;
    }
    if (c === "'") this.frames.push({ kind: 'single' });
    else if (c === '"') this.frames.push({ kind: 'double' });
    else if (c === '#' && wordStartAfter.has(previous)) this.frames.push({ kind: 'comment' });
    else if (c === '\n') this.newline();
    else if (c === '(' && next === '(') {
      // `((` opens bash's arithmetic command (or two subshells: either way, no data goes there).
      this.frames.push({ kind: 'arith', parens: 0 });
      this.previous = '(';
      return i + 1;
    } else if (c === '[' && /[A-Za-z0-9_]/.test(previous))
      this.frames.push({ kind: 'subscript', brackets: 0 });
    else if (c === '(') top.parens++;
    else if (c === ')') {
      if (top.parens > 0) top.parens--;
      else if (top.closer === ')') this.frames.pop();
    } else if (c === '<' && next === '<') {
      // `<<<` is a here string (a word), `<<` a here document.
      return text[i + 2] === '<' ? i + 2 : this.heredoc(text, i);
    } else return this.expansion(text, i, c, next);
    return i;
  }

  /** `$(`, `$((`, `${`, `$'`, `$"` and backquotes, wherever they open something. */
  private expansion(text: string, i: number, c: string, next: string | undefined): number {
    if (c === '`') {
      this.frames.push({ kind: 'backquote' });
      return i;
    }
    if (c !== '$') return i;
    if (next === '(' && text[i + 2] === '(') {
      this.frames.push({ kind: 'arith', parens: 0 });
      this.previous = '(';
      return i + 2;
    }
    if (next === '(') this.frames.push({ kind: 'code', parens: 0, closer: ')' });
    else if (next === '{') this.frames.push({ kind: 'param', braces: 0 });
    else if (next === '[') this.frames.push({ kind: 'subscript', brackets: 0 });
    else if (next === "'" && this.top.kind === 'code') this.frames.push({ kind: 'ansi' });
    else if (next === '"' && this.top.kind === 'code') this.frames.push({ kind: 'double' });
    else return i;
    this.previous = next;
    return i + 1;
  }

  /** `<<WORD` or `<<-WORD`: the body starts after this line and ends at a line that is WORD. */
  private heredoc(text: string, i: number): number {
    let j = i + 2;
    const stripTabs = text[j] === '-';
    if (stripTabs) j++;
    while (text[j] === ' ' || text[j] === '\t') j++;
    let delimiter = '';
    for (; j < text.length; j++) {
      const d = text[j] as string;
      if (/[\s;&|<>()]/.test(d)) break;
      // Quotes around the delimiter only say the body is not expanded; they are not part of it.
      if (d !== "'" && d !== '"' && d !== '\\') delimiter += d;
    }
    // The delimiter runs into inserted text, or there is none: beyond this lexer.
    if (!delimiter || j >= text.length) this.lost = 'unknown';
    else this.pendingHeredocs.push({ delimiter, stripTabs });
    this.previous = '';
    return j - 1;
  }

  private newline(): void {
    const first = this.pendingHeredocs.shift();
    if (first) this.frames.push({ kind: 'heredoc', ...first, line: '' });
  }

  private heredocChar(frame: Extract<Frame, { kind: 'heredoc' }>, c: string): void {
    if (c !== '\n') {
      frame.line += c;
      return;
    }
    const line = frame.stripTabs ? frame.line.replace(/^\t+/, '') : frame.line;
    frame.line = '';
    if (line === frame.delimiter) {
      this.frames.pop();
      this.newline();
    }
  }
}
