import { randomBytes, randomUUID } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";
import { type KeyKind, SYMMETRIC } from "./key-specs.ts";

export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

/** Where a key's material is: KMS's own store, a CloudHSM key store, or an external key store. */
export type KeyOrigin = "AWS_KMS" | "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE";

export type CustomKeyStoreType = "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE";

/**
 * A custom key store (KMS-STS.md): a name, a type and what it connects to, recorded as given. Nothing is behind it:
 * the sandbox keeps no key material in any store.
 */
export interface CustomKeyStore {
  id: string;
  name: string;
  type: CustomKeyStoreType;
  connectionState: "CONNECTED" | "DISCONNECTED";
  creationDate: Date;
  /** AWS_CLOUDHSM: the cluster and its trust anchor certificate. */
  cloudHsmClusterId?: string;
  trustAnchorCertificate?: string;
  /** EXTERNAL_KEY_STORE: the proxy's connectivity, endpoint, path, VPC endpoint service and access key id. */
  xksProxy?: {
    connectivity: string;
    uriEndpoint: string;
    uriPath: string;
    vpcEndpointServiceName?: string;
    accessKeyId: string;
  };
}

export interface KmsKey {
  keyId: string;
  arn: string;
  description: string;
  state: KeyState;
  keyManager: "CUSTOMER" | "AWS";
  creationDate: Date;
  /** The key policy document (JSON text). */
  policy: string;
  /** KeySpec and KeyUsage: SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT unless CreateKey asked for another kind. */
  kind: KeyKind;
  /** When a key pending deletion is deleted (ScheduleKeyDeletion); the sandbox never deletes it. */
  deletionDate?: Date;
  /** Absent: AWS_KMS. A key in a custom key store has that store's id, and in an external one its external key's. */
  origin?: KeyOrigin;
  customKeyStoreId?: string;
  xksKeyId?: string;
}

export interface KmsSnapshot {
  keys: KmsKey[];
  aliases: [alias: string, keyId: string][];
  /** Absent in data directories written before custom key stores. */
  stores?: CustomKeyStore[];
}

/** The default key policy KMS gives a key created without one: the account root may do everything, so IAM decides. */
export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Id: "key-default-1",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  });
}

/** The keys of the sandbox account. S3 asks it to resolve the key named in SSE-KMS requests. */
export class KeyRegistry {
  private readonly keys = new Map<string, KmsKey>();
  private readonly aliases = new Map<string, string>();
  private readonly stores = new Map<string, CustomKeyStore>();

  constructor(private readonly identity: SandboxIdentity) {}

  /** CreateCustomKeyStore: a new store, DISCONNECTED; names are unique in the account and region. */
  createStore(store: Omit<CustomKeyStore, "id" | "connectionState" | "creationDate">): CustomKeyStore {
    if ([...this.stores.values()].some((s) => s.name === store.name)) {
      throw new ServiceError(
        "CustomKeyStoreNameInUseException",
        400,
        `Custom key store name ${store.name} is already in use in this account and region.`,
      );
    }
    const created: CustomKeyStore = {
      ...store,
      id: `cks-${randomBytes(9).toString("hex").slice(0, 17)}`,
      connectionState: "DISCONNECTED",
      creationDate: new Date(),
    };
    this.stores.set(created.id, created);
    return created;
  }

  /** ConnectCustomKeyStore: CONNECTED at once (on AWS it is CONNECTING for minutes first). */
  connectStore(id: string): CustomKeyStore {
    const store = this.store(id);
    store.connectionState = "CONNECTED";
    return store;
  }

  /** A store by id, or CustomKeyStoreNotFoundException. */
  store(id: string): CustomKeyStore {
    const store = this.stores.get(id);
    if (!store) throw storeNotFound(id);
    return store;
  }

  /** DescribeCustomKeyStores: one by id or name, or all, in creation order. */
  describeStores(filter: { id?: string; name?: string }): CustomKeyStore[] {
    if (filter.id !== undefined) return [this.store(filter.id)];
    const all = [...this.stores.values()];
    if (filter.name === undefined) return all;
    const named = all.filter((s) => s.name === filter.name);
    if (!named.length) throw storeNotFound(filter.name);
    return named;
  }

  /**
   * CreateKey with CustomKeyStoreId: a symmetric encryption key in a CONNECTED store, with the store's origin
   * (AWS_CLOUDHSM or EXTERNAL_KEY_STORE, which CreateKey must name) and, in an external store, an external key id
   * no other key of the store uses.
   */
  createInStore(
    description: string,
    storeId: string,
    request: { origin: unknown; kind: KeyKind; xksKeyId: unknown },
  ): KmsKey {
    const store = this.store(storeId);
    if (request.origin !== store.type) {
      throw new ServiceError(
        "UnsupportedOperationException",
        400,
        `A key in custom key store ${storeId} (${store.type}) needs Origin ${store.type}; got ${String(request.origin ?? "AWS_KMS")}.`,
      );
    }
    if (request.kind.keySpec !== SYMMETRIC.keySpec) {
      throw new ServiceError(
        "UnsupportedOperationException",
        400,
        `KeySpec ${request.kind.keySpec} is not supported in a custom key store: only SYMMETRIC_DEFAULT.`,
      );
    }
    if (store.connectionState !== "CONNECTED") {
      throw new ServiceError(
        "CustomKeyStoreInvalidStateException",
        400,
        `Custom key store ${storeId} is ${store.connectionState}; CreateKey needs it CONNECTED.`,
      );
    }
    let xksKeyId: string | undefined;
    if (store.type === "EXTERNAL_KEY_STORE") {
      if (typeof request.xksKeyId !== "string" || request.xksKeyId === "") {
        throw new ServiceError("ValidationException", 400, "XksKeyId is required for a key in an external key store.");
      }
      xksKeyId = request.xksKeyId;
      if ([...this.keys.values()].some((k) => k.customKeyStoreId === storeId && k.xksKeyId === xksKeyId)) {
        throw new ServiceError(
          "XksKeyAlreadyInUseException",
          400,
          `External key ${xksKeyId} is already associated with a KMS key in custom key store ${storeId}.`,
        );
      }
    }
    const key = this.create(description, "CUSTOMER", SYMMETRIC);
    key.origin = store.type;
    key.customKeyStoreId = storeId;
    if (xksKeyId !== undefined) key.xksKeyId = xksKeyId;
    return key;
  }

  create(description = "", keyManager: KmsKey["keyManager"] = "CUSTOMER", kind: KeyKind = SYMMETRIC): KmsKey {
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId,
      arn: `arn:aws:kms:${this.identity.region}:${this.identity.accountId}:key/${keyId}`,
      description,
      state: "Enabled",
      keyManager,
      creationDate: new Date(),
      policy: defaultKeyPolicy(this.identity.accountId),
      kind,
    };
    this.keys.set(keyId, key);
    return key;
  }

  /** The AWS managed key for S3 exists from first use, as on AWS. */
  awsManagedS3Key(): KmsKey {
    const existing = this.aliases.get("alias/aws/s3");
    if (existing) return this.mustGet(existing);
    const key = this.create("Default key that protects my S3 objects when no other key is defined", "AWS");
    this.aliases.set("alias/aws/s3", key.keyId);
    return key;
  }

  /** Resolves a key id, key ARN, alias name or alias ARN; undefined when no such key exists. */
  find(ref: string): KmsKey | undefined {
    if (ref === "alias/aws/s3" || ref.endsWith(":alias/aws/s3")) return this.awsManagedS3Key();
    const keyArn = /^arn:aws[-a-z]*:kms:([-a-z0-9]+):(\d{12}):key\/(.+)$/.exec(ref);
    if (keyArn) {
      if (keyArn[1] !== this.identity.region || keyArn[2] !== this.identity.accountId) return undefined;
      return this.keys.get(keyArn[3] ?? "");
    }
    const aliasArn = /^arn:aws[-a-z]*:kms:[-a-z0-9]+:\d{12}:(alias\/.+)$/.exec(ref);
    const alias = aliasArn?.[1] ?? (ref.startsWith("alias/") ? ref : undefined);
    if (alias) {
      const id = this.aliases.get(alias);
      return id ? this.keys.get(id) : undefined;
    }
    return this.keys.get(ref);
  }

  /** EnableKey / DisableKey: refused for a key pending deletion, as KMS refuses it (KMSInvalidStateException). */
  setState(ref: string, state: "Enabled" | "Disabled"): KmsKey {
    const key = this.mustFind(ref);
    if (key.state === "PendingDeletion") throw pendingDeletion(key);
    key.state = state;
    return key;
  }

  /** ScheduleKeyDeletion: PendingDeletion until `days` (7 to 30) from now. */
  scheduleDeletion(ref: string, days: number): KmsKey {
    const key = this.mustFind(ref);
    if (key.state === "PendingDeletion") throw pendingDeletion(key);
    key.state = "PendingDeletion";
    key.deletionDate = new Date(Date.now() + days * 86_400_000);
    return key;
  }

  /** CancelKeyDeletion: the key comes back Disabled (https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-scheduling-key-deletion.html). */
  cancelDeletion(ref: string): KmsKey {
    const key = this.mustFind(ref);
    if (key.state !== "PendingDeletion") {
      throw new ServiceError("KMSInvalidStateException", 400, `${key.arn} is not pending deletion.`);
    }
    key.state = "Disabled";
    key.deletionDate = undefined;
    return key;
  }

  private mustFind(ref: string): KmsKey {
    const key = this.find(ref);
    if (!key) throw notFound(ref);
    return key;
  }

  createAlias(alias: string, targetRef: string): void {
    const key = this.find(targetRef);
    if (!key) throw notFound(targetRef);
    if (!alias.startsWith("alias/") || alias.startsWith("alias/aws/")) {
      throw new ServiceError(
        "ValidationException",
        400,
        `Alias must begin with "alias/" and not "alias/aws/": ${alias}`,
      );
    }
    if (this.aliases.has(alias))
      throw new ServiceError("AlreadyExistsException", 400, `An alias with the name ${alias} already exists`);
    this.aliases.set(alias, key.keyId);
  }

  /** Every key and alias, for the data directory (sandbox/persistence/). */
  snapshot(): KmsSnapshot {
    return {
      keys: [...this.keys.values()].map((k) => ({ ...k })),
      aliases: [...this.aliases],
      stores: [...this.stores.values()].map((s) => ({ ...s })),
    };
  }

  /** Puts back keys, aliases and custom key stores a data directory saved. */
  restore(saved: KmsSnapshot): void {
    for (const key of saved.keys) this.keys.set(key.keyId, { ...key });
    for (const [alias, keyId] of saved.aliases) this.aliases.set(alias, keyId);
    for (const store of saved.stores ?? []) this.stores.set(store.id, { ...store });
  }

  private mustGet(id: string): KmsKey {
    const key = this.keys.get(id);
    if (!key) throw notFound(id);
    return key;
  }
}

function pendingDeletion(key: KmsKey): ServiceError {
  return new ServiceError("KMSInvalidStateException", 400, `${key.arn} is pending deletion.`);
}

function notFound(ref: string): ServiceError {
  return new ServiceError("NotFoundException", 400, `Key '${ref}' does not exist`);
}

function storeNotFound(ref: string): ServiceError {
  return new ServiceError("CustomKeyStoreNotFoundException", 400, `Custom key store ${ref} does not exist.`);
}
