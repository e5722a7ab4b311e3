/**
 * Stable error codes. A code never changes meaning once released: scripts and plugin authors match on it.
 */
export const ErrorCodes = {
  MANIFEST_INVALID: 'ICODE_ERR_MANIFEST_INVALID',
  ENGINE_MISMATCH: 'ICODE_ERR_ENGINE_MISMATCH',
  DEPENDENCY_MISSING: 'ICODE_ERR_DEPENDENCY_MISSING',
  DEPENDENCY_RANGE: 'ICODE_ERR_DEPENDENCY_RANGE',
  DEPENDENCY_CYCLE: 'ICODE_ERR_DEPENDENCY_CYCLE',
  PLUGIN_NOT_FOUND: 'ICODE_ERR_PLUGIN_NOT_FOUND',
  PLUGIN_VERSION: 'ICODE_ERR_PLUGIN_VERSION',
  DUPLICATE_PLUGIN: 'ICODE_ERR_DUPLICATE_PLUGIN',
  LOAD_FAILED: 'ICODE_ERR_LOAD_FAILED',
  ACTIVATE_FAILED: 'ICODE_ERR_ACTIVATE_FAILED',
  ACTIVATE_TIMEOUT: 'ICODE_ERR_ACTIVATE_TIMEOUT',
  UNDECLARED_CONTRIBUTION: 'ICODE_ERR_UNDECLARED_CONTRIBUTION',
  CONTRIBUTION_MISSING: 'ICODE_ERR_CONTRIBUTION_MISSING',
  DUPLICATE_NAME: 'ICODE_ERR_DUPLICATE_NAME',
  CONFIG_INVALID: 'ICODE_ERR_CONFIG_INVALID',
  FILE_INVALID: 'ICODE_ERR_FILE_INVALID',
  INSTALL_REFUSED: 'ICODE_ERR_INSTALL_REFUSED',
  HOOK_FAILED: 'ICODE_ERR_HOOK_FAILED',
  SERVICE_MISSING: 'ICODE_ERR_SERVICE_MISSING',
  TOOL_NOT_FOUND: 'ICODE_ERR_TOOL_NOT_FOUND',
  PERMISSION_DENIED: 'ICODE_ERR_PERMISSION_DENIED',
  PLUGIN_FAULT: 'ICODE_ERR_PLUGIN_FAULT',
  TOOL_TIMEOUT: 'ICODE_ERR_TOOL_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Where in a file a problem is. Lines and columns are 1-based, as editors show them. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path inside the file, e.g. `permissions.mode`. */
  key?: string;
}

export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}${loc.column !== undefined ? `:${loc.column}` : ''}`;
  if (loc.key) s += ` (key "${loc.key}")`;
  return s;
}

/**
 * An error with a stable code, an optional location and a hint that says what to do about it. Thrown
 * inside icode; at the boundary to the model it becomes an `is_error` tool result.
 *
 * @example
 * ```ts
 * throw new IcodeError(ErrorCodes.CONFIG_INVALID, 'port must be a number', 'set plugins.web.config.port to 8080');
 * ```
 */
export class IcodeError extends Error {
  override readonly name = 'IcodeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** What the user can do about it. */
    readonly fix?: string,
    readonly location?: SourceLocation,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** One readable paragraph: `file:line (key "k"): message. Fix: ...` */
  describe(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    return `${where}${this.message}${this.fix ? `\n  fix: ${this.fix}` : ''}`;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
