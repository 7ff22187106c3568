/**
 * The policy command each AWS KMS operation is authorised as, so one kms
 * policy governs the native, KES and AWS APIs alike. Operations on a key are
 * checked against the key's name (for an alias, the key it points to);
 * listings show only what the caller may list. KEY:UPDATE and KEY:RANDOM
 * exist for the AWS API only; KEY:REWRAP is also a native command.
 */
export const ACTIONS = {
  CreateKey: "KEY:CREATE",
  RotateKeyOnDemand: "KEY:CREATE",
  DescribeKey: "KEY:STATUS",
  GetKeyRotationStatus: "KEY:STATUS",
  ListKeyRotations: "KEY:STATUS",
  ListResourceTags: "KEY:STATUS",
  ListKeys: "KEY:LIST",
  ListAliases: "KEY:LIST",
  Encrypt: "KEY:ENCRYPT",
  Decrypt: "KEY:DECRYPT",
  ReEncrypt: "KEY:REWRAP",
  GenerateDataKey: "KEY:GENERATE",
  GenerateDataKeyWithoutPlaintext: "KEY:GENERATE",
  GenerateMac: "KEY:MAC",
  VerifyMac: "KEY:MAC",
  GenerateRandom: "KEY:RANDOM",
  ScheduleKeyDeletion: "KEY:DELETE",
  CancelKeyDeletion: "KEY:DELETE",
  EnableKey: "KEY:UPDATE",
  DisableKey: "KEY:UPDATE",
  EnableKeyRotation: "KEY:UPDATE",
  DisableKeyRotation: "KEY:UPDATE",
  TagResource: "KEY:UPDATE",
  UntagResource: "KEY:UPDATE",
  CreateAlias: "KEY:UPDATE",
  UpdateAlias: "KEY:UPDATE",
  DeleteAlias: "KEY:UPDATE",
} as const;

/** Policy commands that only the AWS API uses, with what each allows (kms ls-commands). */
export const AWS_ONLY_COMMANDS: Readonly<Record<string, string>> = {
  "KEY:UPDATE": "enable, disable, tag and alias a key, and set its rotation (AWS API)",
  "KEY:RANDOM": "generate random bytes (AWS GenerateRandom)",
};
