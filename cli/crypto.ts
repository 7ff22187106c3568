import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { commandInput, INPUT_OPTION, printable, writeOutputFile } from "./input.ts";
import { intFlag, ENCLAVE, ENCLAVE_HELP } from "./key.ts";
import { output, table } from "./output.ts";
import { decodeBase64, encodeBase64 } from "../lib/encoding/base64.ts";

const b64 = (b: unknown) => encodeBase64(b as Uint8Array);
const VERSION = { version: { type: "string" } } as const;
const CONTEXT = { context: { type: "string" } } as const;
const VERSION_HELP = `  --version N         Key version (default: latest)`;
const CONTEXT_HELP = `  --context TEXT      Associated data bound to the ciphertext (decrypt needs the same)`;
const IN_HELP = (what: string) => `  -i, --in FILE       Read ${what} from FILE (- = standard input)`;

/** The associated data from --context (UTF-8), empty when absent. */
function context(args: { values: Record<string, unknown> }): Uint8Array {
  return new TextEncoder().encode((args.values.context as string | undefined) ?? "");
}

/** Bytes of standard base64 text, or a usage error. */
function fromBase64(text: string, what: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw new CliError(`${what} must be base64`, 2);
  return decodeBase64(t);
}

/** encrypt, decrypt, keygen, mac. */
export const cryptoCommands: CliCommand[] = [
  {
    name: "encrypt",
    summary: "Encrypt a message with a key",
    help: `Usage: kms encrypt [options] NAME (PLAINTEXT | - | --in FILE)

Prints the base64 ciphertext of PLAINTEXT (UTF-8 text), of standard input
('-'), or of the bytes of FILE. Secrets given on the command line show up in
'ps' and the shell history: prefer '-' or --in.

${ENCLAVE_HELP}
${IN_HELP("the plaintext")}
${CONTEXT_HELP}
${VERSION_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...INPUT_OPTION, ...CONTEXT, ...VERSION },
    positionals: [1, 2],
    async run(args) {
      const [name, text] = args.positionals;
      const enclave = enclaveOf(args);
      const plaintext = commandInput(args, text, "the plaintext");
      try {
        const r = await connect(args).encrypt(enclave, name, plaintext, context(args), intFlag(args.values.version, "--version"));
        output(args, r, () => b64(r.ciphertext));
      } finally {
        plaintext.fill(0);
      }
    },
  },
  {
    name: "decrypt",
    summary: "Decrypt a ciphertext with a key",
    help: `Usage: kms decrypt [options] NAME (CIPHERTEXT | - | --in FILE)

Decrypts the base64 CIPHERTEXT (or base64 read from standard input or FILE)
and prints the plaintext: as text when it is printable UTF-8, else as base64.
--output FILE writes the raw plaintext bytes to FILE (mode 0600) instead.

${ENCLAVE_HELP}
${IN_HELP("the ciphertext")}
  -o, --output FILE   Write the plaintext to FILE instead of printing it
${CONTEXT_HELP}
${VERSION_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...INPUT_OPTION, ...CONTEXT, ...VERSION, output: { type: "string", short: "o" } },
    positionals: [1, 2],
    async run(args) {
      const [name, text] = args.positionals;
      const enclave = enclaveOf(args);
      const ciphertext = fromBase64(new TextDecoder().decode(commandInput(args, text, "the ciphertext")), "the ciphertext");
      const r = await connect(args).decrypt(enclave, name, ciphertext, context(args), intFlag(args.values.version, "--version"));
      const plaintext = r.plaintext as Uint8Array;
      const file = args.values.output as string | undefined;
      if (file !== undefined) {
        writeOutputFile(file, plaintext);
        output(args, { file, bytes: plaintext.length }, () => "");
        return;
      }
      const asText = printable(plaintext);
      output(args, r, () => asText ?? b64(plaintext));
      if (asText === undefined && !args.values.json) console.error("kms: the plaintext is binary, printed as base64 (--output FILE writes the raw bytes)");
    },
  },
  {
    name: "keygen",
    summary: "Generate a data encryption key (DEK)",
    help: `Usage: kms keygen [options] NAME

Prints a fresh DEK and its ciphertext under NAME, both base64.

${ENCLAVE_HELP}
  --length N          DEK length in bytes (default 32, at most 1024)
${CONTEXT_HELP}
${VERSION_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...CONTEXT, ...VERSION, length: { type: "string" } },
    positionals: 1,
    async run(args) {
      const r = await connect(args).generate(enclaveOf(args), args.positionals[0], context(args), intFlag(args.values.length, "--length"), intFlag(args.values.version, "--version"));
      output(args, r, () => table([["Version", String(r.version)], ["Plaintext", b64(r.plaintext)], ["Ciphertext", b64(r.ciphertext)]]));
    },
  },
  {
    name: "mac",
    summary: "Compute a MAC of a message with a key",
    help: `Usage: kms mac [options] NAME (MESSAGE | - | --in FILE)

Prints the base64 HMAC-SHA256 of MESSAGE (UTF-8 text), of standard input
('-'), or of the bytes of FILE, under a MAC key derived from the key NAME.

${ENCLAVE_HELP}
${IN_HELP("the message")}
${VERSION_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...INPUT_OPTION, ...VERSION },
    positionals: [1, 2],
    async run(args) {
      const [name, text] = args.positionals;
      const enclave = enclaveOf(args);
      const message = commandInput(args, text, "the message");
      const r = await connect(args).mac(enclave, name, message, intFlag(args.values.version, "--version"));
      output(args, r, () => b64(r.mac));
    },
  },
];
