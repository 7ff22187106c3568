import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { intFlag, ENCLAVE, ENCLAVE_HELP } from "./key.ts";
import { output, table } from "./output.ts";

const enc = new TextEncoder();
const b64 = (b: unknown) => Buffer.from(b as Uint8Array).toString("base64");
const OPTIONS = { ...CONNECT_OPTIONS, ...ENCLAVE, context: { type: "string" }, version: { type: "string" } } as const;
const HELP = `${ENCLAVE_HELP}\n  --context TEXT      Associated data bound to the ciphertext\n  --version N         Key version (default: latest)\n${CONNECT_HELP}`;

/** The associated data from --context (UTF-8), empty when absent. */
function context(args: { values: Record<string, unknown> }): Uint8Array {
  return enc.encode((args.values.context as string | undefined) ?? "");
}

/** Bytes of standard base64 text, or a usage error. */
function fromBase64(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new CliError(`${what} must be base64`, 2);
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** encrypt, decrypt, keygen, mac. */
export const cryptoCommands: CliCommand[] = [
  {
    name: "encrypt",
    summary: "Encrypt a message with a key",
    help: `Usage: kms encrypt [options] NAME PLAINTEXT\n\nPrints the base64 ciphertext of the UTF-8 text PLAINTEXT.\n\n${HELP}`,
    options: OPTIONS,
    positionals: 2,
    async run(args) {
      const [name, plaintext] = args.positionals;
      const r = await connect(args).encrypt(enclaveOf(args), name, enc.encode(plaintext), context(args), intFlag(args.values.version, "--version"));
      output(args, r, () => b64(r.ciphertext));
    },
  },
  {
    name: "decrypt",
    summary: "Decrypt a ciphertext with a key",
    help: `Usage: kms decrypt [options] NAME CIPHERTEXT\n\nDecrypts the base64 CIPHERTEXT and prints the plaintext (UTF-8).\n\n${HELP}`,
    options: OPTIONS,
    positionals: 2,
    async run(args) {
      const [name, ciphertext] = args.positionals;
      const r = await connect(args).decrypt(enclaveOf(args), name, fromBase64(ciphertext, "CIPHERTEXT"), context(args), intFlag(args.values.version, "--version"));
      output(args, r, () => new TextDecoder().decode(r.plaintext as Uint8Array));
    },
  },
  {
    name: "keygen",
    summary: "Generate a data encryption key (DEK)",
    help: `Usage: kms keygen [options] NAME\n\nPrints a fresh DEK and its ciphertext under NAME, both base64.\n\n${HELP}\n  --length N          DEK length in bytes (default 32, at most 1024)`,
    options: { ...OPTIONS, length: { type: "string" } },
    positionals: 1,
    async run(args) {
      const r = await connect(args).generate(enclaveOf(args), args.positionals[0], context(args), intFlag(args.values.length, "--length"), intFlag(args.values.version, "--version"));
      output(args, r, () => table([["Version", String(r.version)], ["Plaintext", b64(r.plaintext)], ["Ciphertext", b64(r.ciphertext)]]));
    },
  },
  {
    name: "mac",
    summary: "Compute a MAC of a message with a key",
    help: `Usage: kms mac [options] NAME MESSAGE\n\nPrints the base64 HMAC-SHA256 of the UTF-8 text MESSAGE.\n\n${HELP}`,
    options: OPTIONS,
    positionals: 2,
    async run(args) {
      const [name, message] = args.positionals;
      const r = await connect(args).mac(enclaveOf(args), name, enc.encode(message), intFlag(args.values.version, "--version"));
      output(args, r, () => b64(r.mac));
    },
  },
];
