import { header, type SandboxRequest, ServiceError, type ServiceHandler } from "../http.ts";
import { algorithmsOf, keyKindOf } from "./key-specs.ts";
import type { KeyRegistry, KmsKey } from "./keys.ts";

/** KMS over its JSON 1.1 protocol (`x-amz-target: TrentService.<Operation>`): the subset rekey and the sandbox need. */
export function kmsService(keys: KeyRegistry): ServiceHandler {
  return async (req: SandboxRequest) => {
    const target = header(req, "x-amz-target");
    if (req.method !== "POST" || !target?.startsWith("TrentService.")) return undefined;
    const operation = target.slice("TrentService.".length);
    try {
      const input = req.body.length ? (JSON.parse(req.body.toString("utf8")) as Record<string, unknown>) : {};
      return json(200, dispatch(keys, operation, input));
    } catch (err) {
      if (err instanceof ServiceError) return json(err.status, { __type: err.code, message: err.message });
      if (err instanceof SyntaxError)
        return json(400, { __type: "SerializationException", message: "Request body is not JSON" });
      throw err;
    }
  };
}

function dispatch(keys: KeyRegistry, operation: string, input: Record<string, unknown>): unknown {
  const keyId = () => {
    const v = input.KeyId;
    if (typeof v !== "string" || v === "") throw new ServiceError("ValidationException", 400, "KeyId is required");
    return v;
  };
  switch (operation) {
    case "CreateKey": {
      const description = typeof input.Description === "string" ? input.Description : "";
      return { KeyMetadata: metadata(keys.create(description, "CUSTOMER", keyKindOf(input))) };
    }
    case "DescribeKey": {
      const key = keys.find(keyId());
      if (!key) throw new ServiceError("NotFoundException", 400, `Key '${String(input.KeyId)}' does not exist`);
      return { KeyMetadata: metadata(key) };
    }
    case "DisableKey":
      keys.setState(keyId(), "Disabled");
      return {};
    case "EnableKey":
      keys.setState(keyId(), "Enabled");
      return {};
    case "ScheduleKeyDeletion": {
      const days = input.PendingWindowInDays ?? 30;
      if (typeof days !== "number" || !Number.isInteger(days) || days < 7 || days > 30) {
        throw new ServiceError(
          "ValidationException",
          400,
          `1 validation error detected: Value '${String(days)}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`,
        );
      }
      const key = keys.scheduleDeletion(keyId(), days);
      return {
        KeyId: key.arn,
        DeletionDate: (key.deletionDate?.getTime() ?? 0) / 1000,
        KeyState: key.state,
        PendingWindowInDays: days,
      };
    }
    case "CancelKeyDeletion":
      return { KeyId: keys.cancelDeletion(keyId()).arn };
    case "GetKeyPolicy": {
      const key = keys.find(keyId());
      if (!key) throw new ServiceError("NotFoundException", 400, `Key '${String(input.KeyId)}' does not exist`);
      return { Policy: key.policy, PolicyName: "default" };
    }
    case "PutKeyPolicy": {
      const key = keys.find(keyId());
      if (!key) throw new ServiceError("NotFoundException", 400, `Key '${String(input.KeyId)}' does not exist`);
      if (typeof input.Policy !== "string") throw new ServiceError("ValidationException", 400, "Policy is required");
      try {
        JSON.parse(input.Policy);
      } catch {
        throw new ServiceError("MalformedPolicyDocumentException", 400, "The policy is not valid JSON");
      }
      key.policy = input.Policy;
      return {};
    }
    case "CreateAlias": {
      const alias = input.AliasName;
      if (typeof alias !== "string") throw new ServiceError("ValidationException", 400, "AliasName is required");
      keys.createAlias(alias, String(input.TargetKeyId ?? ""));
      return {};
    }
    default:
      throw new ServiceError("UnsupportedOperationException", 400, `The sandbox does not implement KMS ${operation}`);
  }
}

function metadata(key: KmsKey) {
  const account = key.arn.split(":")[4];
  return {
    AWSAccountId: account,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate.getTime() / 1000,
    Enabled: key.state === "Enabled",
    Description: key.description,
    KeyUsage: key.kind.keyUsage,
    KeyState: key.state,
    ...(key.deletionDate ? { DeletionDate: key.deletionDate.getTime() / 1000 } : {}),
    Origin: "AWS_KMS",
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: key.kind.keySpec,
    KeySpec: key.kind.keySpec,
    ...algorithmsOf(key.kind),
    MultiRegion: false,
  };
}

function json(status: number, body: unknown) {
  return { status, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify(body) };
}
