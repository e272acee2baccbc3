/**
 * The one error class of sealwork (modelled on viem's BaseError and jose's stable codes).
 *
 * - `code`: a stable, SCREAMING_SNAKE identifier scripts can match on (never reworded), declared
 *   in the catalogue (src/errors/codes.ts): the constructor takes an `ErrorCode`, so an undeclared
 *   code fails `tsc`.
 * - `docsPath`: where the code is documented (`docs/error-codes.md#<code in lower case>`).
 * - `shortMessage`: what was wrong, in one sentence.
 * - `hint`: what to do about it (optional, appended to `message`).
 * - `details`: extra context (file names, expected vs found); never secret values.
 * - `cause`: the underlying error, if any.
 */
import { docsPathOf, type ErrorCode } from './errors/codes.js';

export {
  CODE_FAMILIES,
  ERROR_CODES,
  docsPathOf,
  errorCodeSpec,
  isErrorCode,
  type DeclaredErrorCode,
  type ErrorCode,
  type ErrorCodeSpec,
  type ErrorDomain,
} from './errors/codes.js';

export interface SealworkErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Exit status the CLI uses for this error (default 1). */
  exitCode?: number;
}

export class SealworkError<C extends ErrorCode = ErrorCode> extends Error {
  override name = 'SealworkError';
  readonly code: C;
  readonly docsPath: string;
  readonly shortMessage: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly exitCode: number;

  constructor(code: C, shortMessage: string, options: SealworkErrorOptions = {}) {
    super(options.hint ? `${shortMessage} ${options.hint}` : shortMessage, { cause: options.cause });
    this.code = code;
    this.docsPath = docsPathOf(code);
    this.shortMessage = shortMessage;
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = options.exitCode ?? 1;
  }

  toJSON(): Record<string, unknown> {
    const cause = this.cause;
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      shortMessage: this.shortMessage,
      docsPath: this.docsPath,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
      ...(cause !== undefined
        ? {
            cause:
              cause instanceof SealworkError
                ? cause.toJSON()
                : cause instanceof Error
                  ? {
                      name: cause.name,
                      message: cause.message,
                      ...('code' in cause ? { code: cause.code } : {}),
                    }
                  : String(cause),
          }
        : {}),
    };
  }
}

/** Is `e` a SealworkError (of this code, when one is given)? Narrows `e.code` to that code. */
export function isSealworkError<C extends ErrorCode = ErrorCode>(
  e: unknown,
  code?: C,
): e is SealworkError<C> {
  return e instanceof SealworkError && (code === undefined || e.code === code);
}

/** Map common Node filesystem errors to a SealworkError naming the path. */
export function fsError(err: unknown, path: string, action: string): SealworkError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return new SealworkError('FILE_NOT_FOUND', `Cannot ${action} ${path}: no such file.`, {
      hint: 'Check the path.',
      details: { path },
      cause: err,
    });
  if (code === 'EACCES' || code === 'EPERM')
    return new SealworkError('FILE_ACCESS_DENIED', `Cannot ${action} ${path}: permission denied.`, {
      hint: 'Check the file permissions.',
      details: { path },
      cause: err,
    });
  if (code === 'EISDIR')
    return new SealworkError('FILE_IS_DIRECTORY', `Cannot ${action} ${path}: it is a directory.`, {
      hint: 'Give a file path.',
      details: { path },
      cause: err,
    });
  if (code === 'EEXIST')
    return new SealworkError('OUTPUT_EXISTS', `Cannot ${action} ${path}: it already exists.`, {
      hint: 'Choose another path or pass --force to overwrite.',
      details: { path },
      cause: err,
    });
  return new SealworkError('FILE_IO_ERROR', `Cannot ${action} ${path}: ${(err as Error)?.message ?? err}`, {
    details: { path },
    cause: err,
  });
}
