import { HsmKeyError, SoftHsm } from "../lib/hsm/soft.ts";
import { type CliCommand, CliError } from "./command.ts";
import { output } from "./output.ts";

/** The soft HSM named by MINIO_KMS_HSM_KEY, or a CliError saying how to make one. */
export function hsmFromEnv(): SoftHsm {
  const text = process.env.MINIO_KMS_HSM_KEY;
  if (!text) {
    throw new CliError("MINIO_KMS_HSM_KEY is not set: create an HSM key with 'kms hsm new' and export MINIO_KMS_HSM_KEY=hsm:aes256:…");
  }
  try {
    return SoftHsm.parse(text);
  } catch (err) {
    if (err instanceof HsmKeyError) throw new CliError(err.message);
    throw err;
  }
}

/** hsm new: print a fresh software HSM key. */
export const hsmCommands: CliCommand[] = [
  {
    name: "hsm",
    summary: "Make a software HSM key (kms hsm new)",
    help: `Usage: kms hsm new\n\nPrints a fresh software HSM key (hsm:aes256:…). Keep it secret and safe:\nevery server of a cluster needs it, and without it the data cannot be read.\nSame as 'kms --soft-hsm'.`,
    options: {},
    positionals: 1,
    async run(args) {
      if (args.positionals[0] !== "new") throw new CliError(`unknown hsm command '${args.positionals[0]}': use 'kms hsm new'`, 2);
      const key = SoftHsm.generate();
      output(args, { hsm_key: key }, () => key);
    },
  },
];
