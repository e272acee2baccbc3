/**
 * Catalogue of every stable error code of sealwork, generated from the source.
 *
 *   node --import tsx scripts/error-codes.ts            write docs/error-codes.md
 *   node --import tsx scripts/error-codes.ts --check    exit 1 (and print the difference) if the
 *                                                       committed file is not what would be written
 *   node --import tsx scripts/error-codes.ts --json     print the entries as JSON (for tests)
 *   … --file <path>                                     write or check another file than docs/error-codes.md
 *
 * It parses src/**\/*.ts with the TypeScript compiler API (syntax only, no type checking) and finds
 * the codes a user can see:
 *
 * - "producers": classes whose constructor takes a `code` parameter (SealworkError, the SMS's
 *   Refusal) and, found by fixpoint, functions that pass one of their parameters on as the code of
 *   a producer or as the `code` of an error object (layerError, imageError, imagePath, stage,
 *   errorBody…). Each call site gives the code (its argument, or the parameter's default) and the
 *   message (the producer's message with the call's arguments substituted where they are literal);
 * - factories of src/errors.ts (fsError): their codes are listed under the domain of each caller;
 * - error objects `{ code: 'X', message | reason: … }` (chain revert table CHAIN_ERROR_MESSAGES,
 *   HTTP error bodies of the SMS and the storage, attestation verdicts, worker journal causes).
 *
 * A code expression may be a literal, a template (interpolations become `…`), a conditional or
 * `??`/`||` (every branch), a local constant, or `TABLE[key]` of an object/array literal (every
 * value). A code read from another error (`d.code`, `e?.code`) is a pass-through: its codes are
 * catalogued where they originate, and the sites are listed at the end of the file.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const OUT = join(ROOT, 'docs', 'error-codes.md');
const DOMAINS = ['attestation', 'chain', 'cli', 'crypto', 'enclave', 'sdk', 'sms', 'util', 'worker'];
const MESSAGE_PARAMS = ['shortMessage', 'message', 'msg', 'reason'];
const MAX_MESSAGE = 180;

export interface ErrorCodeEntry {
  code: string;
  domain: string;
  message: string;
  files: string[];
}

export interface PassThrough {
  file: string;
  line: number;
  expression: string;
}

export interface Catalogue {
  entries: ErrorCodeEntry[];
  passThrough: PassThrough[];
}

interface Site {
  code: string;
  message: string;
  file: string;
  pos: number;
}

/** How a producer emits: the code is the parameter at `codeIndex` and the message is `message`. */
interface Emission {
  codeIndex: number;
  message: ts.Expression | undefined;
}

interface Resolved {
  codes: { code: string; message: ts.Expression | undefined }[];
  /** The code is a parameter of the enclosing function: catalogued at that function's call sites. */
  param: boolean;
  /** Parts read from elsewhere (another error's code): not resolvable statically. */
  pass: ts.Expression[];
}

function merge(a: Resolved, b: Resolved): Resolved {
  return { codes: [...a.codes, ...b.codes], param: a.param || b.param, pass: [...a.pass, ...b.pass] };
}

const CODE_RE = /^[A-Z][A-Z0-9_]*(…)?$/;

interface Producer {
  name: string;
  file: string;
  exported: boolean;
  params: ts.NodeArray<ts.ParameterDeclaration>;
  emissions: Emission[];
  /** Literal-code emissions attributed to the caller (factories of src/errors.ts). */
  factory: { code: ts.Expression; message: ts.Expression | undefined }[];
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

function domainOf(file: string): string {
  const first = file.split('/')[1] ?? '';
  return DOMAINS.includes(first) ? first : 'core';
}

function walk(node: ts.Node, f: (n: ts.Node) => void): void {
  f(node);
  node.forEachChild((c) => walk(c, f));
}

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e))
    e = e.expression;
  return e;
}

function isExported(node: ts.Node): boolean {
  let n: ts.Node | undefined = node;
  while (n && !ts.isSourceFile(n)) {
    if (ts.canHaveModifiers(n) && ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
      return true;
    n = n.parent;
  }
  return false;
}

function calleeName(e: ts.Expression): string | undefined {
  const x = unwrap(e);
  if (ts.isIdentifier(x)) return x.text;
  if (ts.isPropertyAccessExpression(x)) return x.name.text;
  return undefined;
}

function propName(p: ts.ObjectLiteralElementLike): string | undefined {
  if (!p.name) return undefined;
  if (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) return p.name.text;
  return undefined;
}

/** The value expression of an object literal property (shorthand `code` → the identifier). */
function propValue(p: ts.ObjectLiteralElementLike): ts.Expression | undefined {
  if (ts.isPropertyAssignment(p)) return p.initializer;
  if (ts.isShorthandPropertyAssignment(p)) return p.name;
  if (ts.isMethodDeclaration(p)) return undefined;
  return undefined;
}

function errorObjectParts(
  o: ts.ObjectLiteralExpression,
): { code: ts.Expression; message?: ts.Expression } | undefined {
  let code: ts.Expression | undefined;
  let message: ts.Expression | undefined;
  for (const p of o.properties) {
    const n = propName(p);
    if (n === 'code') code = propValue(p);
    else if ((n === 'message' || n === 'reason') && !message) message = propValue(p);
  }
  return code && message ? { code, message } : undefined;
}

/** The function-like node a node sits in (the nearest one). */
function enclosingFunction(n: ts.Node): ts.SignatureDeclaration | undefined {
  for (let p = n.parent; p && !ts.isSourceFile(p); p = p.parent)
    if (ts.isFunctionLike(p)) return p as ts.SignatureDeclaration;
  return undefined;
}

class Scanner {
  files = new Map<string, ts.SourceFile>();
  producers = new Map<string, Producer[]>();
  sites: Site[] = [];
  passThrough: PassThrough[] = [];

  constructor(paths: string[]) {
    for (const p of paths) {
      const rel = relative(ROOT, p).split(sep).join('/');
      this.files.set(rel, ts.createSourceFile(rel, readFileSync(p, 'utf8'), ts.ScriptTarget.ES2022, true));
    }
  }

  line(sf: ts.SourceFile, pos: number): number {
    return sf.getLineAndCharacterOfPosition(pos).line + 1;
  }

  addProducer(p: Producer): boolean {
    const list = this.producers.get(p.name) ?? [];
    const same = list.find((x) => x.file === p.file);
    if (same) {
      const before = same.emissions.length;
      for (const e of p.emissions)
        if (!same.emissions.some((x) => x.codeIndex === e.codeIndex && x.message === e.message))
          same.emissions.push(e);
      return same.emissions.length !== before;
    }
    list.push(p);
    this.producers.set(p.name, list);
    return true;
  }

  /** Producers a call in `file` to `name` may reach (not exported ones only from their own file). */
  producersFor(name: string | undefined, file: string): Producer[] {
    if (!name) return [];
    const list = this.producers.get(name) ?? [];
    const local = list.filter((p) => p.file === file);
    return local.length > 0 ? local : list.filter((p) => p.exported);
  }

  /** Classes with a constructor parameter named `code`. */
  findClasses(): void {
    for (const [file, sf] of this.files)
      walk(sf, (n) => {
        if (!ts.isClassDeclaration(n) || !n.name) return;
        const ctor = n.members.find(ts.isConstructorDeclaration);
        if (!ctor) return;
        const codeIndex = ctor.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === 'code');
        if (codeIndex < 0) return;
        const msg = ctor.parameters.find(
          (p) => ts.isIdentifier(p.name) && MESSAGE_PARAMS.includes(p.name.text),
        )?.name as ts.Identifier | undefined;
        this.addProducer({
          name: n.name.text,
          file,
          exported: isExported(n),
          params: ctor.parameters,
          emissions: [{ codeIndex, message: msg }],
          factory: [],
        });
      });
  }

  /** Name and parameters of a named function-like declaration (function, `const f = (…) =>`). */
  named(fn: ts.SignatureDeclaration): { name: string; node: ts.Node } | undefined {
    if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name && ts.isIdentifier(fn.name))
      return { name: fn.name.text, node: fn };
    if (
      (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) &&
      ts.isVariableDeclaration(fn.parent) &&
      ts.isIdentifier(fn.parent.name)
    )
      return { name: fn.parent.name.text, node: fn.parent };
    return undefined;
  }

  /** A parameter of the nearest enclosing function, by identifier. */
  paramIndex(id: ts.Expression, at: ts.Node): { fn: ts.SignatureDeclaration; index: number } | undefined {
    const x = unwrap(id);
    if (!ts.isIdentifier(x)) return undefined;
    for (let fn = enclosingFunction(at); fn; fn = enclosingFunction(fn)) {
      const index = fn.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === x.text);
      if (index >= 0) return { fn, index };
    }
    return undefined;
  }

  /** Fixpoint: functions whose parameter becomes the code of a producer call or an error object. */
  findFunctions(): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const [file, sf] of this.files)
        walk(sf, (n) => {
          let emitted: { code: ts.Expression; message: ts.Expression | undefined }[] = [];
          if (ts.isNewExpression(n) || ts.isCallExpression(n)) {
            for (const p of this.producersFor(calleeName(n.expression), file))
              for (const e of p.emissions) {
                const arg = n.arguments?.[e.codeIndex];
                if (arg) emitted.push({ code: arg, message: this.substituteMessage(e, p, n) });
              }
          } else if (ts.isObjectLiteralExpression(n)) {
            const parts = errorObjectParts(n);
            if (parts) emitted = [{ code: parts.code, message: parts.message }];
          }
          for (const e of emitted) {
            const par = this.paramIndex(e.code, n);
            if (!par) continue;
            const named = this.named(par.fn);
            if (!named) continue;
            if (
              this.addProducer({
                name: named.name,
                file,
                exported: isExported(named.node),
                params: par.fn.parameters,
                emissions: [{ codeIndex: par.index, message: e.message }],
                factory: [],
              })
            )
              changed = true;
          }
        });
    }
  }

  /** The message expression of a producer call, when it is one of the call's own arguments. */
  substituteMessage(
    e: Emission,
    p: Producer,
    call: ts.CallExpression | ts.NewExpression,
  ): ts.Expression | undefined {
    if (!e.message) return undefined;
    const m = unwrap(e.message);
    if (ts.isIdentifier(m)) {
      const i = p.params.findIndex((x) => ts.isIdentifier(x.name) && x.name.text === m.text);
      if (i >= 0) return call.arguments?.[i] ?? p.params[i]?.initializer;
    }
    return e.message;
  }

  /** Factories of src/errors.ts: functions building SealworkErrors with literal codes. */
  findFactories(): void {
    const sf = this.files.get('src/errors.ts');
    if (!sf) return;
    for (const st of sf.statements) {
      if (!ts.isFunctionDeclaration(st) || !st.name || !st.body) continue;
      const factory: Producer['factory'] = [];
      walk(st.body, (n) => {
        if (ts.isNewExpression(n) && calleeName(n.expression) === 'SealworkError' && n.arguments?.[0])
          factory.push({ code: n.arguments[0], message: n.arguments[1] });
      });
      if (factory.length > 0)
        this.addProducer({
          name: st.name.text,
          file: 'src/errors.ts',
          exported: isExported(st),
          params: st.parameters,
          emissions: [],
          factory,
        });
    }
  }

  /**
   * Every code a code expression may take, each with the message that goes with it; `param` when
   * the code is a parameter of the enclosing function (a producer), `pass` lists the parts that
   * cannot be resolved (a code read from another error).
   */
  resolve(code: ts.Expression, message: ts.Expression | undefined, sf: ts.SourceFile, depth = 0): Resolved {
    const c = unwrap(code);
    const none: Resolved = { codes: [], param: false, pass: [c] };
    if (depth > 8) return none;
    if (ts.isStringLiteral(c) || ts.isNoSubstitutionTemplateLiteral(c))
      return { codes: [{ code: c.text, message }], param: false, pass: [] };
    if (ts.isTemplateExpression(c))
      return { codes: [{ code: this.render(c, new Map()), message }], param: false, pass: [] };
    if (ts.isConditionalExpression(c)) {
      const m = message && unwrap(message);
      const paired = m && ts.isConditionalExpression(m) && m.condition.getText() === c.condition.getText();
      const a = this.resolve(c.whenTrue, paired ? m.whenTrue : message, sf, depth + 1);
      const b = this.resolve(c.whenFalse, paired ? m.whenFalse : message, sf, depth + 1);
      return merge(a, b);
    }
    if (
      ts.isBinaryExpression(c) &&
      (c.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken ||
        c.operatorToken.kind === ts.SyntaxKind.BarBarToken)
    )
      return merge(
        this.resolve(c.left, message, sf, depth + 1),
        this.resolve(c.right, message, sf, depth + 1),
      );
    if (ts.isIdentifier(c)) {
      if (this.paramIndex(c, c)) return { codes: [], param: true, pass: [] };
      const decl = this.constant(c.text, sf);
      return decl ? this.resolve(decl, message, sf, depth + 1) : none;
    }
    if (ts.isElementAccessExpression(c) && ts.isIdentifier(unwrap(c.expression))) {
      const table = this.constant((unwrap(c.expression) as ts.Identifier).text, sf);
      const t = table && unwrap(table);
      const values: ts.Expression[] = [];
      if (t && ts.isObjectLiteralExpression(t))
        for (const p of t.properties) {
          const v = propValue(p);
          if (v) values.push(v);
        }
      else if (t && ts.isArrayLiteralExpression(t)) values.push(...t.elements);
      if (values.length === 0) return none;
      return values.map((v) => this.resolve(v, message, sf, depth + 1)).reduce(merge);
    }
    return none;
  }

  /** The initializer of a `const name = …` of this file (when there is exactly one). */
  constant(name: string, sf: ts.SourceFile): ts.Expression | undefined {
    const found: ts.Expression[] = [];
    walk(sf, (n) => {
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer)
        found.push(n.initializer);
    });
    return found.length === 1 ? found[0] : undefined;
  }

  pass(at: ts.Node, sf: ts.SourceFile): void {
    const expression = at.getText(sf).replace(/\s+/g, ' ');
    if (this.passThrough.some((p) => p.file === sf.fileName && p.expression === expression)) return;
    this.passThrough.push({ file: sf.fileName, line: this.line(sf, at.getStart(sf)), expression });
  }

  /** A message expression as text: literals kept, interpolations `…` (call arguments substituted). */
  render(e: ts.Expression | undefined, env: Map<string, ts.Expression>, depth = 0): string {
    if (!e || depth > 6) return '…';
    const x = unwrap(e);
    if (ts.isStringLiteral(x) || ts.isNoSubstitutionTemplateLiteral(x)) return x.text;
    if (ts.isTemplateExpression(x)) {
      let s = x.head.text;
      for (const span of x.templateSpans) {
        const inner = unwrap(span.expression);
        const lit =
          ts.isStringLiteral(inner) ||
          ts.isNoSubstitutionTemplateLiteral(inner) ||
          (ts.isIdentifier(inner) && env.has(inner.text));
        s += (lit ? this.render(inner, env, depth + 1) : '…') + span.literal.text;
      }
      return s;
    }
    if (ts.isIdentifier(x) && env.has(x.text)) return this.render(env.get(x.text), new Map(), depth + 1);
    if (ts.isArrowFunction(x) && !ts.isBlock(x.body)) return this.render(x.body, env, depth + 1);
    if (ts.isBinaryExpression(x) && x.operatorToken.kind === ts.SyntaxKind.PlusToken)
      return this.render(x.left, env, depth + 1) + this.render(x.right, env, depth + 1);
    if (ts.isConditionalExpression(x))
      return `${this.render(x.whenTrue, env, depth + 1)} / ${this.render(x.whenFalse, env, depth + 1)}`;
    return '…';
  }

  record(
    code: ts.Expression,
    message: ts.Expression | undefined,
    env: Map<string, ts.Expression>,
    sf: ts.SourceFile,
    at: ts.Node,
  ): void {
    const r = this.resolve(code, message, sf);
    if (r.param) return; // a producer forwarding its parameter: catalogued at its call sites
    for (const p of r.pass) this.pass(p, sf);
    for (const x of r.codes)
      if (CODE_RE.test(x.code))
        this.sites.push({
          code: x.code,
          message: this.render(x.message, env),
          file: sf.fileName,
          pos: at.getStart(sf),
        });
  }

  /** Arguments of a call bound to the producer's parameter names (defaults when omitted). */
  env(p: Producer, call: ts.CallExpression | ts.NewExpression): Map<string, ts.Expression> {
    const env = new Map<string, ts.Expression>();
    p.params.forEach((par, i) => {
      const v = call.arguments?.[i] ?? par.initializer;
      if (ts.isIdentifier(par.name) && v) env.set(par.name.text, v);
    });
    return env;
  }

  collect(): void {
    for (const [file, sf] of this.files) {
      // src/errors.ts holds the class and the shared factories: their codes count where they are called
      if (file === 'src/errors.ts') continue;
      walk(sf, (n) => {
        if (ts.isNewExpression(n) || ts.isCallExpression(n)) {
          for (const p of this.producersFor(calleeName(n.expression), file)) {
            const env = this.env(p, n);
            for (const e of p.emissions) {
              const arg = n.arguments?.[e.codeIndex] ?? p.params[e.codeIndex]?.initializer;
              if (!arg) continue;
              const msg =
                e.message && ts.isIdentifier(unwrap(e.message))
                  ? env.get((unwrap(e.message) as ts.Identifier).text)
                  : e.message;
              // a message given as an argument is rendered in the caller's scope
              const inCaller = msg !== e.message;
              this.record(arg, msg, inCaller ? new Map() : env, sf, n);
            }
            for (const f of p.factory) this.record(f.code, f.message, env, sf, n);
          }
        } else if (ts.isObjectLiteralExpression(n)) {
          const parts = errorObjectParts(n);
          if (!parts) return;
          const r = this.resolve(parts.code, parts.message, sf);
          if (!r.param)
            for (const x of r.codes)
              if (CODE_RE.test(x.code))
                this.sites.push({
                  code: x.code,
                  message: this.render(x.message, new Map()),
                  file,
                  pos: n.getStart(sf),
                });
        }
      });
    }
  }
}

/** Scan the source and build the catalogue. */
export function scan(): Catalogue {
  const s = new Scanner(listTs(SRC));
  s.findClasses();
  s.findFactories();
  s.findFunctions();
  s.collect();

  const byKey = new Map<string, { entry: ErrorCodeEntry; first: Site }>();
  const sites = [...s.sites].sort((a, b) => (a.file === b.file ? a.pos - b.pos : a.file < b.file ? -1 : 1));
  for (const site of sites) {
    const domain = domainOf(site.file);
    const key = `${domain} ${site.code}`;
    const have = byKey.get(key);
    if (!have) {
      byKey.set(key, {
        entry: { code: site.code, domain, message: site.message, files: [site.file] },
        first: site,
      });
    } else {
      if (!have.entry.files.includes(site.file)) have.entry.files.push(site.file);
      // a message that says something beats one known only at run time
      if (have.entry.message === '…' && site.message !== '…') have.entry.message = site.message;
    }
  }
  const entries = [...byKey.values()]
    .map((x) => x.entry)
    .sort((a, b) => (a.domain === b.domain ? (a.code < b.code ? -1 : 1) : a.domain < b.domain ? -1 : 1));
  const passThrough = s.passThrough.sort((a, b) =>
    a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1,
  );
  return { entries, passThrough };
}

function cell(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  const short = t.length > MAX_MESSAGE ? `${t.slice(0, MAX_MESSAGE - 1)}…` : t;
  return short.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
}

/** The markdown text of docs/error-codes.md (formatted with the repository's prettier config). */
export async function render(c: Catalogue): Promise<string> {
  const codes = new Set(c.entries.map((e) => e.code));
  const lines: string[] = [
    '# Error codes',
    '',
    '<!-- Generated by `node --import tsx scripts/error-codes.ts` from src/; do not edit by hand. -->',
    '',
    `Every stable \`code\` a \`SealworkError\` (or an HTTP error body of the SMS or the storage) can carry: ${codes.size} codes, ` +
      'one table per domain (the folder of `src/` that raises it). A code raised in several domains is listed in each. ' +
      'Messages are the short message of the first place that raises it; `…` stands for a value known only at run time. ' +
      'See [errors.md](errors.md) for the shape of an error.',
    '',
  ];
  const domains = [...new Set(c.entries.map((e) => e.domain))];
  for (const d of domains) {
    lines.push(`## ${d}`, '', '| code | message | where |', '| --- | --- | --- |');
    for (const e of c.entries.filter((x) => x.domain === d))
      lines.push(`| \`${e.code}\` | ${cell(e.message)} | ${e.files.map((f) => `\`${f}\``).join(', ')} |`);
    lines.push('');
  }
  lines.push(
    '## Pass-through sites',
    '',
    'These places re-raise a code read from another error (a decoded revert, an SMS or storage response, a ' +
      'verifier verdict); the code itself is catalogued where it originates. They cannot be resolved statically.',
    '',
  );
  for (const p of c.passThrough) lines.push(`- \`${p.file}\`: \`\` ${p.expression} \`\``);
  lines.push('');
  const text = lines.join('\n');
  const config = (await prettier.resolveConfig(OUT)) ?? {};
  return prettier.format(text, { ...config, filepath: OUT });
}

function diff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: string[] = [];
  const ys = new Set(y);
  const xs = new Set(x);
  for (const l of x) if (!ys.has(l)) out.push(`- ${l}`);
  for (const l of y) if (!xs.has(l)) out.push(`+ ${l}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--file');
  const file = i >= 0 && args[i + 1] ? args[i + 1]! : OUT;
  const c = scan();
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
    return;
  }
  const text = await render(c);
  if (args.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      /* missing: differs */
    }
    if (current === text) {
      process.stdout.write(
        `${relative(ROOT, file)} is up to date (${new Set(c.entries.map((e) => e.code)).size} codes).\n`,
      );
      return;
    }
    process.stderr.write(
      `${relative(ROOT, file)} is out of date; run \`node --import tsx scripts/error-codes.ts\`.\n` +
        `--- committed\n+++ generated\n${diff(current, text)}\n`,
    );
    process.exitCode = 1;
    return;
  }
  writeFileSync(file, text);
  process.stdout.write(
    `wrote ${relative(ROOT, file)}: ${new Set(c.entries.map((e) => e.code)).size} codes, ${c.entries.length} rows, ` +
      `${c.passThrough.length} pass-through sites\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
