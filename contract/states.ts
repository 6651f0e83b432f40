/**
 * The names of the workflow's states, as the console, the execution history and `rekey status` show them, and the
 * `${Placeholder}` each Task state's Resource carries: the deployment (infra/, or local/ for the sandbox) substitutes
 * it with the ARN of the function that runs the state.
 */
export const StateNames = {
  validateInput: "Validate input",
  preflight: "Preflight checks",
  enforceDefaultEncryption: "Enforce default encryption",
  findInventory: "Find inventory",
  isInventoryReady: "Is the inventory ready?",
  waitForInventory: "Wait for inventory",
  sliceInventory: "Slice the inventory",
  isPlanStored: "Is a plan stored?",
  waitForAthena: "Wait for Athena",
  useStoredPlan: "Use the stored plan",
  planSlices: "Plan each slice",
  writeManifests: "Filter inventory and write manifests",
  isSliceDone: "Is the slice planned?",
  sliceDone: "Slice planned",
  combinePlan: "Combine the plan",
  anythingToCopy: "Anything to copy?",
  noCopyJobs: "No copy jobs needed",
  createCopyJobs: "Create copy jobs",
  isThereAJobSlot: "Is there a copy job slot?",
  waitForJobSlot: "Wait for a copy job slot",
  checkCopyJobs: "Check copy jobs",
  areJobsDone: "Are the copy jobs done?",
  keepRedriveJobs: "Keep redrive jobs",
  waitingForApproval: "Waiting for approval",
  waitForJobs: "Wait for copy jobs",
  anyLargeObjects: "Any objects to copy directly?",
  noLargeObjects: "No objects to copy directly",
  copyLargeObjects: "Copy objects directly",
  areLargeObjectsDone: "Are the direct copies done?",
  sliceReports: "Slice the completion reports",
  verifySlices: "Verify each slice",
  readReports: "Read completion reports",
  isSliceVerified: "Is the slice verified?",
  sliceVerified: "Slice verified",
  verifyResults: "Verify results",
  lookForNonCompliantObjects: "Look for non-compliant objects",
  isBucketCheckDone: "Is the bucket check done?",
  waitForBucketCheck: "Wait for the bucket check",
  writeFinalReport: "Write final report",
  didEveryObjectSucceed: "Did every copied object end compliant?",
  reencrypted: "Re-encrypted",
  finishedWithFailures: "Finished with failed objects",
  recordFailure: "Record failure",
  runFailed: "Run failed",
} as const;

/** The `${Placeholder}` each Task state's Resource carries, per state. */
export const FunctionPlaceholders = {
  [StateNames.validateInput]: "ValidateInputFunctionArn",
  [StateNames.preflight]: "PreflightFunctionArn",
  [StateNames.enforceDefaultEncryption]: "EnforceDefaultEncryptionFunctionArn",
  [StateNames.findInventory]: "FindInventoryFunctionArn",
  [StateNames.sliceInventory]: "SliceInventoryFunctionArn",
  [StateNames.writeManifests]: "WriteManifestsFunctionArn",
  [StateNames.combinePlan]: "CombinePlanFunctionArn",
  [StateNames.createCopyJobs]: "CreateCopyJobsFunctionArn",
  [StateNames.checkCopyJobs]: "CheckCopyJobsFunctionArn",
  [StateNames.copyLargeObjects]: "CopyLargeObjectsFunctionArn",
  [StateNames.sliceReports]: "SliceReportsFunctionArn",
  [StateNames.readReports]: "ReadReportsFunctionArn",
  [StateNames.verifyResults]: "VerifyResultsFunctionArn",
  [StateNames.lookForNonCompliantObjects]: "LookForNonCompliantObjectsFunctionArn",
  [StateNames.writeFinalReport]: "WriteFinalReportFunctionArn",
  [StateNames.recordFailure]: "RecordFailureFunctionArn",
} as const;

export type TaskStateName = keyof typeof FunctionPlaceholders;

/** The ARN Step Functions gives an execution of a state machine by its name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}
