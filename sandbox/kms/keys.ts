import { randomUUID } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { ServiceError } from "../http.ts";
import { type KeyKind, SYMMETRIC } from "./key-specs.ts";

export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

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
}

export interface KmsSnapshot {
  keys: KmsKey[];
  aliases: [alias: string, keyId: string][];
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

  constructor(private readonly identity: SandboxIdentity) {}

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
    return { keys: [...this.keys.values()].map((k) => ({ ...k })), aliases: [...this.aliases] };
  }

  /** Puts back keys and aliases a data directory saved. */
  restore(saved: KmsSnapshot): void {
    for (const key of saved.keys) this.keys.set(key.keyId, { ...key });
    for (const [alias, keyId] of saved.aliases) this.aliases.set(alias, keyId);
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
