import { UserError } from '../errors.js';

/** What was wrong with a reference; `message` says it in one sentence. */
export type ReferenceProblem =
  | 'malformed'
  | 'unsupported'
  | 'missing_service'
  | 'ambiguous_service'
  | 'missing_variable'
  | 'missing_shared'
  | 'cycle'
  | 'too_long';

/**
 * A `${{…}}` reference that cannot be resolved. `variable` holds the reference; `service` owns that
 * variable (`null` for a shared variable); `reference` is the reference as written (`null` for
 * `cycle` and `too_long`); `cycle` lists the chain for cycles, first element repeated at the end.
 */
export class VariableReferenceError extends UserError {
  readonly problem: ReferenceProblem;
  readonly variable: string;
  readonly service: string | null;
  readonly reference: string | null;
  readonly cycle: string[];

  constructor(
    message: string,
    details: {
      problem: ReferenceProblem;
      variable: string;
      service: string | null;
      reference?: string | null;
      cycle?: string[];
    },
  ) {
    super(message, { status: 400, code: 'invalid_reference' });
    this.name = 'VariableReferenceError';
    this.problem = details.problem;
    this.variable = details.variable;
    this.service = details.service;
    this.reference = details.reference ?? null;
    this.cycle = details.cycle ?? [];
  }
}
