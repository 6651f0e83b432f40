import { ServiceError } from "../http.ts";

/**
 * Athena's API errors (JSON 1.1 `__type`) and the failures of a query, which are not API errors but the FAILED
 * state of its execution with a StateChangeReason and an AthenaError
 * (https://docs.aws.amazon.com/athena/latest/ug/error-reference.html).
 */
export function invalidRequest(message: string, athenaErrorCode = "INVALID_INPUT"): ServiceError {
  return new ServiceError("InvalidRequestException", 400, message, { AthenaErrorCode: athenaErrorCode });
}

/** Error categories of the error catalog: 1 SYSTEM, 2 USER, 3 OTHER. */
export type ErrorCategory = 1 | 2 | 3;

/** Error types of the catalog that the sandbox reports. */
export const ErrorTypes = {
  internalEngine: 200,
  writeResults: 401,
  userError: 1000,
  dataError: 1001,
  ddlTaskFailed: 1003,
  syntaxError: 1006,
  queryRejected: 1008,
  invalidArgument: 1100,
  tableNotFound: 1110,
  notSupported: 1200,
  functionNotFound: 1303,
  bucketNotFound: 1306,
  s3PermissionError: 1501,
} as const;

/** A query that ends FAILED: the reason is the execution's StateChangeReason and the AthenaError's message. */
export class QueryFailure extends Error {
  constructor(
    readonly reason: string,
    readonly errorType: number,
    readonly category: ErrorCategory = 2,
    readonly retryable = false,
  ) {
    super(reason);
    this.name = "QueryFailure";
  }
}

/** A DDL statement Hive refused, worded as Athena reports Hive's DDLTask failures. */
export function ddlFailure(detail: string): QueryFailure {
  return new QueryFailure(
    `FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. ${detail}`,
    ErrorTypes.ddlTaskFailed,
  );
}
