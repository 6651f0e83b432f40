import { ServiceError } from "../http.ts";

/**
 * S3 Control's modeled errors. The model gives the codes but no HTTP status traits; the statuses here are
 * the sandbox's choice (sandbox/ASSUMPTIONS.md, "S3 Batch Operations"). The SDK maps errors by code.
 */
export const badRequest = (message: string) => new ServiceError("BadRequestException", 400, message);
export const invalidRequest = (message: string) => new ServiceError("InvalidRequestException", 400, message);
export const idempotencyConflict = (message: string) => new ServiceError("IdempotencyException", 409, message);
export const jobStatusConflict = (message: string) => new ServiceError("JobStatusException", 409, message);
export const noSuchJob = (jobId: string, code: "NotFoundException" | "NoSuchJobException" = "NotFoundException") =>
  new ServiceError(code, 404, `No such job: ${jobId}`);
export const invalidNextToken = () =>
  new ServiceError("InvalidNextTokenException", 400, "The specified pagination token is not valid.");
export const accessDenied = (message: string) => new ServiceError("AccessDenied", 403, message);
