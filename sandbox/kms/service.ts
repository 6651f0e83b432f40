import { header, type SandboxRequest, ServiceError, type ServiceHandler } from "../http.ts";
import { algorithmsOf, keyKindOf } from "./key-specs.ts";
import type { CustomKeyStore, KeyRegistry, KmsKey } from "./keys.ts";

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
      const kind = keyKindOf(input);
      if (input.CustomKeyStoreId !== undefined) {
        const store = requiredString(input, "CustomKeyStoreId");
        return {
          KeyMetadata: metadata(
            keys,
            keys.createInStore(description, store, { origin: input.Origin, kind, xksKeyId: input.XksKeyId }),
          ),
        };
      }
      if (input.Origin !== undefined && input.Origin !== "AWS_KMS") {
        throw new ServiceError(
          "UnsupportedOperationException",
          400,
          `The sandbox creates keys with Origin AWS_KMS, or AWS_CLOUDHSM / EXTERNAL_KEY_STORE with a CustomKeyStoreId; got ${String(input.Origin)}.`,
        );
      }
      return { KeyMetadata: metadata(keys, keys.create(description, "CUSTOMER", kind)) };
    }
    case "CreateCustomKeyStore":
      return { CustomKeyStoreId: keys.createStore(storeRequest(input)).id };
    case "ConnectCustomKeyStore":
      keys.connectStore(requiredString(input, "CustomKeyStoreId"));
      return {};
    case "DescribeCustomKeyStores": {
      const stores = keys.describeStores({
        ...(typeof input.CustomKeyStoreId === "string" ? { id: input.CustomKeyStoreId } : {}),
        ...(typeof input.CustomKeyStoreName === "string" ? { name: input.CustomKeyStoreName } : {}),
      });
      return { CustomKeyStores: stores.map(storeEntry), Truncated: false };
    }
    case "DescribeKey": {
      const key = keys.find(keyId());
      if (!key) throw new ServiceError("NotFoundException", 400, `Key '${String(input.KeyId)}' does not exist`);
      return { KeyMetadata: metadata(keys, key) };
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

function requiredString(input: Record<string, unknown>, member: string): string {
  const v = input[member];
  if (typeof v !== "string" || v === "") throw new ServiceError("ValidationException", 400, `${member} is required`);
  return v;
}

/**
 * CreateCustomKeyStore's members, checked as far as the sandbox needs them: a name, the type (AWS_CLOUDHSM by
 * default), and the members that type requires (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html).
 * Nothing is connected to: the cluster and the proxy are recorded as given.
 */
function storeRequest(input: Record<string, unknown>): Omit<CustomKeyStore, "id" | "connectionState" | "creationDate"> {
  const name = requiredString(input, "CustomKeyStoreName");
  const type = input.CustomKeyStoreType ?? "AWS_CLOUDHSM";
  if (type === "AWS_CLOUDHSM") {
    requiredString(input, "KeyStorePassword");
    return {
      name,
      type,
      cloudHsmClusterId: requiredString(input, "CloudHsmClusterId"),
      trustAnchorCertificate: requiredString(input, "TrustAnchorCertificate"),
    };
  }
  if (type !== "EXTERNAL_KEY_STORE") {
    throw new ServiceError(
      "ValidationException",
      400,
      `1 validation error detected: Value '${String(type)}' at 'customKeyStoreType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE]`,
    );
  }
  const connectivity = input.XksProxyConnectivity ?? "PUBLIC_ENDPOINT";
  const credential = input.XksProxyAuthenticationCredential as Record<string, unknown> | undefined;
  const accessKeyId = typeof credential?.AccessKeyId === "string" ? credential.AccessKeyId : "";
  if (!accessKeyId || typeof credential?.RawSecretAccessKey !== "string") {
    throw new ServiceError("ValidationException", 400, "XksProxyAuthenticationCredential is required");
  }
  return {
    name,
    type,
    xksProxy: {
      connectivity: String(connectivity),
      uriEndpoint: requiredString(input, "XksProxyUriEndpoint"),
      uriPath: requiredString(input, "XksProxyUriPath"),
      ...(connectivity === "VPC_ENDPOINT_SERVICE"
        ? { vpcEndpointServiceName: requiredString(input, "XksProxyVpcEndpointServiceName") }
        : {}),
      accessKeyId,
    },
  };
}

/** A store as DescribeCustomKeyStores lists it (never the password or the secret access key). */
function storeEntry(store: CustomKeyStore) {
  return {
    CustomKeyStoreId: store.id,
    CustomKeyStoreName: store.name,
    CustomKeyStoreType: store.type,
    ConnectionState: store.connectionState,
    CreationDate: store.creationDate.getTime() / 1000,
    ...(store.cloudHsmClusterId ? { CloudHsmClusterId: store.cloudHsmClusterId } : {}),
    ...(store.trustAnchorCertificate ? { TrustAnchorCertificate: store.trustAnchorCertificate } : {}),
    ...(store.xksProxy
      ? {
          XksProxyConfiguration: {
            Connectivity: store.xksProxy.connectivity,
            AccessKeyId: store.xksProxy.accessKeyId,
            UriEndpoint: store.xksProxy.uriEndpoint,
            UriPath: store.xksProxy.uriPath,
            ...(store.xksProxy.vpcEndpointServiceName
              ? { VpcEndpointServiceName: store.xksProxy.vpcEndpointServiceName }
              : {}),
          },
        }
      : {}),
  };
}

function metadata(keys: KeyRegistry, key: KmsKey) {
  const account = key.arn.split(":")[4];
  const store = key.customKeyStoreId ? keys.store(key.customKeyStoreId) : undefined;
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
    Origin: key.origin ?? "AWS_KMS",
    ...(store ? { CustomKeyStoreId: store.id } : {}),
    ...(store?.cloudHsmClusterId ? { CloudHsmClusterId: store.cloudHsmClusterId } : {}),
    ...(key.xksKeyId ? { XksKeyConfiguration: { Id: key.xksKeyId } } : {}),
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
