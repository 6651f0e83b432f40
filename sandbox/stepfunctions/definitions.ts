import { type StateMachineDefinition, validateDefinition } from "./engine.ts";
import { checkExecutionName, sfnError } from "./names.ts";
import { checkLength, enumError, validation } from "./params.ts";

/** What CreateStateMachine and UpdateStateMachine check of a state machine's name, definition, role and type. */

const MAX_DEFINITION_LENGTH = 1_048_576;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;

/** A definition CreateStateMachine and UpdateStateMachine accept: JSON that is valid ASL. */
export function parseDefinition(definition: string): StateMachineDefinition {
  checkLength("definition", definition.length, MAX_DEFINITION_LENGTH);
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch (err) {
    throw invalidDefinition(`INVALID_JSON_DESCRIPTION: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidDefinition("SCHEMA_VALIDATION_FAILED: The definition must be a JSON object");
  }
  try {
    validateDefinition(parsed);
  } catch (err) {
    const detail = String((err as Error).message)
      .replace(/^State machine definition is invalid, see error\(s\) below:\s*/, "")
      .trim();
    throw invalidDefinition(`SCHEMA_VALIDATION_FAILED: ${detail}`);
  }
  return parsed as StateMachineDefinition;
}

const invalidDefinition = (detail: string) =>
  sfnError("InvalidDefinition", `Invalid State Machine Definition: '${detail}'`);

/** State machine names follow the execution name rules (1–80 characters, no forbidden characters). */
export function checkName(name: string): void {
  try {
    checkExecutionName(name);
  } catch {
    throw sfnError("InvalidName", `Invalid Name: '${name}'`);
  }
}

export function checkRoleArn(roleArn: string): string {
  if (!ROLE_ARN.test(roleArn)) throw sfnError("InvalidArn", `Invalid Arn: '${roleArn}'`);
  return roleArn;
}

export function checkType(type: string | undefined): void {
  if (type === undefined || type === "STANDARD") return;
  if (type === "EXPRESS") throw validation("The sandbox runs only STANDARD state machines");
  throw enumError("type", type, ["STANDARD", "EXPRESS"]);
}
