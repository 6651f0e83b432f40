/** What "Record failure" hands to the Fail state: the error, its cause, and where the record of it is. */
export interface RecordedFailure {
  error: string;
  cause: string;
  failureLocation?: string;
}
