/**
 * docs/error-codes.md, generated from the error catalogue (src/errors/: one table per domain).
 *
 *   node --import tsx scripts/error-codes.ts            write docs/error-codes.md
 *   node --import tsx scripts/error-codes.ts --check    exit 1 (and print the difference) if the
 *                                                       committed file is not what would be written
 *   node --import tsx scripts/error-codes.ts --json     print the entries and the usage scan as JSON
 *   … --file <path>                                     write or check another file than docs/error-codes.md
 *
 * The document is the catalogue: one table per domain, one row per code with its meaning and the
 * HTTP status the SMS or the storage answer with; each row carries the anchor an error's `docsPath`
 * points at (`docs/error-codes.md#<code in lower case>`).
 *
 * `--json` also scans src/ (outside src/errors/) with the TypeScript scanner, for the tests:
 * - `files` of each entry: the files holding the code as a string literal (a family, e.g.
 *   `SMS_HTTP_<status>`, as the head of a template);
 * - `undeclared`: string literals used as a code (`code: 'X'`, `x.code === 'X'`, …) that are neither
 *   declared nor a Node errno code. `tsc` already refuses an undeclared code given to SealworkError;
 *   this catches the HTTP error bodies and tables that are not typed by `ErrorCode`.
 */
import { constants } from 'node:os';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';
import {
  CODE_FAMILIES,
  CODE_TABLES,
  ERROR_CODES_DOC,
  type ErrorCode,
  type ErrorCodeSpec,
  docsAnchor,
} from '../src/errors/codes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const OUT = join(ROOT, ERROR_CODES_DOC);

export interface ErrorCodeEntry {
  /** The code (a family is shown as its pattern, e.g. `SMS_HTTP_<status>`). */
  code: string;
  domain: string;
  meaning: string;
  status?: number | readonly number[];
  anchor: string;
  docsPath: string;
  /** Files of src/ (outside src/errors/) that hold the code as a literal. */
  files: string[];
}

export interface UndeclaredUse {
  code: string;
  file: string;
  line: number;
}

/** The catalogue in document order: domains as CODE_TABLES lists them, codes sorted in each. */
export function catalogue(): Omit<ErrorCodeEntry, 'files'>[] {
  const out: Omit<ErrorCodeEntry, 'files'>[] = [];
  const entry = (code: string, anchor: string, s: ErrorCodeSpec) => ({
    code,
    domain: s.domain,
    meaning: s.meaning,
    ...(s.status !== undefined ? { status: s.status } : {}),
    anchor,
    docsPath: `${ERROR_CODES_DOC}#${anchor}`,
  });
  for (const table of CODE_TABLES) {
    const rows = Object.entries(table as Record<string, ErrorCodeSpec>).map(([code, s]) =>
      entry(code, docsAnchor(code as ErrorCode), s),
    );
    for (const [prefix, f] of Object.entries(CODE_FAMILIES))
      if (rows[0] && f.domain === rows[0].domain)
        rows.push(entry(f.name, docsAnchor(`${prefix}0` as ErrorCode), f));
    out.push(...rows.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)));
  }
  return out;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

const CODE_LIKE = /^[A-Z][A-Z0-9_]*$/;
const ERRNO = new Set(Object.keys(constants.errno));

/** String literals in a code position: the value of a `code` property, a comparison with `.code`. */
function codeLiterals(e: ts.Expression, out: ts.StringLiteralLike[]): void {
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e))
    return codeLiterals(e.expression, out);
  if (ts.isStringLiteralLike(e)) out.push(e);
  else if (ts.isConditionalExpression(e)) {
    codeLiterals(e.whenTrue, out);
    codeLiterals(e.whenFalse, out);
  } else if (
    ts.isBinaryExpression(e) &&
    (e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken ||
      e.operatorToken.kind === ts.SyntaxKind.BarBarToken)
  ) {
    codeLiterals(e.left, out);
    codeLiterals(e.right, out);
  }
}

const isCodeRef = (e: ts.Expression) =>
  (ts.isIdentifier(e) && e.text === 'code') || (ts.isPropertyAccessExpression(e) && e.name.text === 'code');

/** Scan src/ (outside src/errors/): where each literal appears, and literals used as undeclared codes. */
export function scanSources(declared: Set<string>): {
  literals: Map<string, Set<string>>;
  undeclared: UndeclaredUse[];
} {
  const literals = new Map<string, Set<string>>();
  const undeclared: UndeclaredUse[] = [];
  const note = (text: string, file: string) => {
    if (!CODE_LIKE.test(text) && !text.endsWith('_')) return;
    let s = literals.get(text);
    if (!s) literals.set(text, (s = new Set()));
    s.add(file);
  };
  for (const path of listTs(SRC)) {
    const file = relative(ROOT, path).split(sep).join('/');
    if (file.startsWith('src/errors/')) continue;
    const text = readFileSync(path, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteralLike(n)) note(n.text, file);
      else if (ts.isTemplateHead(n)) note(n.text, file);
      const found: ts.StringLiteralLike[] = [];
      if (
        ts.isPropertyAssignment(n) &&
        (ts.isIdentifier(n.name) || ts.isStringLiteral(n.name)) &&
        n.name.text === 'code'
      )
        codeLiterals(n.initializer, found);
      else if (
        ts.isBinaryExpression(n) &&
        [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(
          n.operatorToken.kind,
        )
      ) {
        if (isCodeRef(n.left)) codeLiterals(n.right, found);
        if (isCodeRef(n.right)) codeLiterals(n.left, found);
      }
      for (const lit of found)
        if (CODE_LIKE.test(lit.text) && !declared.has(lit.text) && !ERRNO.has(lit.text))
          undeclared.push({
            code: lit.text,
            file,
            line: sf.getLineAndCharacterOfPosition(lit.getStart()).line + 1,
          });
      n.forEachChild(visit);
    };
    visit(sf);
  }
  return { literals, undeclared };
}

export function entries(): { entries: ErrorCodeEntry[]; undeclared: UndeclaredUse[] } {
  const cat = catalogue();
  const { literals, undeclared } = scanSources(new Set(cat.map((e) => e.code)));
  const familyPrefix = new Map<string, string>(
    Object.entries(CODE_FAMILIES).map(([prefix, f]) => [f.name, prefix]),
  );
  return {
    entries: cat.map((e) => ({
      ...e,
      files: [...(literals.get(familyPrefix.get(e.code) ?? e.code) ?? [])].sort(),
    })),
    undeclared,
  };
}

const cell = (s: string) => s.replace(/\|/g, '\\|');
const statusText = (s: ErrorCodeEntry['status']) =>
  s === undefined ? '' : typeof s === 'number' ? String(s) : s.join(', ');

export async function render(): Promise<string> {
  const cat = catalogue();
  const domains = [...new Set(cat.map((e) => e.domain))];
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated by `npm run error-codes` from the catalogue in src/errors/; do not edit by hand. -->',
    '',
    `Every stable \`code\` a \`SealworkError\` (or an HTTP error body of the SMS or the storage) can carry: ${cat.length} codes, declared once in \`src/errors/\`, one table per domain. The HTTP column is the status the SMS or the storage answer with, for codes that are HTTP answers. Each error's \`docsPath\` is \`docs/error-codes.md#<code in lower case>\`, the anchor of its row. See [errors.md](errors.md) for the shape of an error.`,
    '',
  ];
  for (const d of domains) {
    lines.push(`## ${d}`, '', '| code | meaning | HTTP |', '| --- | --- | --- |');
    for (const e of cat.filter((x) => x.domain === d))
      lines.push(`| \`${e.code}\` <a id="${e.anchor}"></a> | ${cell(e.meaning)} | ${statusText(e.status)} |`);
    lines.push('');
  }
  const config = (await prettier.resolveConfig(OUT)) ?? {};
  return prettier.format(lines.join('\n'), { ...config, filepath: OUT });
}

function diff(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  const as = new Set(al);
  const bs = new Set(bl);
  return [
    ...al.filter((l) => !bs.has(l)).map((l) => `- ${l}`),
    ...bl.filter((l) => !as.has(l)).map((l) => `+ ${l}`),
  ]
    .slice(0, 40)
    .join('\n');
}

async function main(argv: string[]): Promise<number> {
  const fileArg = argv.indexOf('--file');
  const out = fileArg >= 0 && argv[fileArg + 1] ? argv[fileArg + 1]! : OUT;
  const shown = relative(ROOT, out).split(sep).join('/') || out;
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(entries(), null, 2)}\n`);
    return 0;
  }
  const text = await render();
  const count = catalogue().length;
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      /* missing: stale */
    }
    if (current === text) {
      process.stdout.write(`${shown} is up to date (${count} codes)\n`);
      return 0;
    }
    process.stderr.write(
      `${shown} is out of date; run \`npm run error-codes\` to regenerate it.\n${diff(current, text)}\n`,
    );
    return 1;
  }
  writeFileSync(out, text);
  process.stdout.write(`wrote ${shown} (${count} codes)\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = await main(process.argv.slice(2));
