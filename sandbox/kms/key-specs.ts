import { ServiceError } from "../http.ts";

/**
 * Key specs and the key usages KMS allows for each (CreateKey, `KeySpec` and `KeyUsage`,
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html). The sandbox keeps no key material: a
 * key's spec and usage decide what other services (S3) accept it for.
 */
const USAGES: Record<string, readonly string[]> = {
  SYMMETRIC_DEFAULT: ["ENCRYPT_DECRYPT"],
  RSA_2048: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_3072: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_4096: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  ECC_NIST_P256: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_NIST_P384: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_NIST_P521: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_SECG_P256K1: ["SIGN_VERIFY"],
  HMAC_224: ["GENERATE_VERIFY_MAC"],
  HMAC_256: ["GENERATE_VERIFY_MAC"],
  HMAC_384: ["GENERATE_VERIFY_MAC"],
  HMAC_512: ["GENERATE_VERIFY_MAC"],
};

export interface KeyKind {
  keySpec: string;
  keyUsage: string;
}

export const SYMMETRIC: KeyKind = { keySpec: "SYMMETRIC_DEFAULT", keyUsage: "ENCRYPT_DECRYPT" };

/** CreateKey's `KeySpec` (or the older `CustomerMasterKeySpec`) and `KeyUsage`, checked as KMS checks them. */
export function keyKindOf(input: Record<string, unknown>): KeyKind {
  const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
  if (typeof spec !== "string" || !(spec in USAGES)) {
    throw new ServiceError(
      "ValidationException",
      400,
      `1 validation error detected: Value '${String(spec)}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [${Object.keys(USAGES).join(", ")}]`,
    );
  }
  const allowed = USAGES[spec] ?? [];
  const usage = input.KeyUsage ?? (spec === "SYMMETRIC_DEFAULT" ? "ENCRYPT_DECRYPT" : undefined);
  if (usage === undefined) {
    throw new ServiceError("ValidationException", 400, `KeyUsage is required for KeySpec ${spec}.`);
  }
  if (typeof usage !== "string" || !allowed.includes(usage)) {
    throw new ServiceError(
      "ValidationException",
      400,
      `KeyUsage ${String(usage)} is not compatible with KeySpec ${spec}.`,
    );
  }
  return { keySpec: spec, keyUsage: usage };
}

/** The algorithms DescribeKey lists for a key of this kind. */
export function algorithmsOf(kind: KeyKind): Record<string, string[]> {
  if (kind.keyUsage === "ENCRYPT_DECRYPT") {
    return {
      EncryptionAlgorithms: kind.keySpec.startsWith("RSA_")
        ? ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        : ["SYMMETRIC_DEFAULT"],
    };
  }
  if (kind.keyUsage === "SIGN_VERIFY") {
    if (kind.keySpec.startsWith("RSA_")) {
      return {
        SigningAlgorithms: [
          "RSASSA_PKCS1_V1_5_SHA_256",
          "RSASSA_PKCS1_V1_5_SHA_384",
          "RSASSA_PKCS1_V1_5_SHA_512",
          "RSASSA_PSS_SHA_256",
          "RSASSA_PSS_SHA_384",
          "RSASSA_PSS_SHA_512",
        ],
      };
    }
    const bits = { ECC_NIST_P256: "256", ECC_NIST_P384: "384", ECC_NIST_P521: "512", ECC_SECG_P256K1: "256" };
    return { SigningAlgorithms: [`ECDSA_SHA_${bits[kind.keySpec as keyof typeof bits] ?? "256"}`] };
  }
  if (kind.keyUsage === "GENERATE_VERIFY_MAC") return { MacAlgorithms: [`HMAC_SHA_${kind.keySpec.slice(5)}`] };
  return { KeyAgreementAlgorithms: ["ECDH"] };
}
