/**
 * kms rewrap: re-encrypts files of ciphertexts (one base64 ciphertext per
 * line, as `kms encrypt` prints them) to a key's latest version or to
 * another key, with KEY:REWRAP pipelined many to a request; the plaintexts
 * never leave the server. Each file is rewritten atomically, and only when
 * every ciphertext in it was rewrapped.
 */
import { readFileSync, statSync } from "node:fs";
import { KmsClient, KmsClientError } from "../lib/client/client.ts";
import { writeFileAtomic } from "../lib/store/atomic-file.ts";
import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { ENCLAVE, ENCLAVE_HELP } from "./key.ts";
import { output } from "./output.ts";

/** Ciphertexts per pipelined request. */
const BATCH = 500;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A progress bar on stderr, drawn only when stderr is a terminal. */
class Progress {
  readonly #total: number;
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #drawn = 0;
  constructor(total: number) {
    this.#total = total;
  }
  add(n: number, file: string): void {
    this.#done += n;
    const now = Date.now();
    if (!this.#tty || (now - this.#drawn < 100 && this.#done < this.#total)) return;
    this.#drawn = now;
    const width = 30;
    const filled = this.#total ? Math.round((this.#done / this.#total) * width) : width;
    process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${this.#done}/${this.#total} ciphertexts  ${file.slice(-40)}\x1b[K`);
  }
  end(): void {
    if (this.#tty && this.#drawn) process.stderr.write("\n");
  }
}

interface FileResult {
  readonly file: string;
  readonly ciphertexts: number;
  readonly error?: string;
}

/** Rewraps the lines of one file; the new text, or the first failure (file:line: message). */
async function rewrapLines(
  client: KmsClient, enclave: string, name: string, to: string, context: Uint8Array, file: string, lines: string[], progress: Progress,
): Promise<{ text: string; count: number } | { error: string }> {
  const out = [...lines];
  const todo = lines.map((l, i) => ({ i, text: l.trim() })).filter((l) => l.text !== "");
  for (const { i, text } of todo) if (!BASE64.test(text)) return { error: `${file}:${i + 1}: not a base64 ciphertext` };
  for (let at = 0; at < todo.length; at += BATCH) {
    const batch = todo.slice(at, at + BATCH);
    const calls = batch.map((l) => KmsClient.rewrapCall(name, new Uint8Array(Buffer.from(l.text, "base64")), context, to));
    let replies;
    try {
      replies = await client.batch(enclave, calls);
    } catch (err) {
      if (!(err instanceof KmsClientError) || batch.length === 1) {
        return { error: `${file}:${batch[0].i + 1}: ${(err as Error).message}` };
      }
      // One bad ciphertext fails the whole request: find it, one at a time.
      for (const l of batch) {
        try {
          await client.call(enclave, KmsClient.rewrapCall(name, new Uint8Array(Buffer.from(l.text, "base64")), context, to));
        } catch (e) {
          return { error: `${file}:${l.i + 1}: ${(e as Error).message}` };
        }
      }
      return { error: `${file}: ${(err as Error).message}` };
    }
    replies.forEach((r, j) => (out[batch[j].i] = Buffer.from(r.ciphertext as Uint8Array).toString("base64")));
    progress.add(batch.length, file);
  }
  return { text: out.join("\n"), count: todo.length };
}

/** kms rewrap. */
export const rewrapCommands: CliCommand[] = [
  {
    name: "rewrap",
    summary: "Re-encrypt files of ciphertexts to a key's latest version (or another key)",
    help: `Usage: kms rewrap [options] NAME FILE...

Re-encrypts every ciphertext in each FILE (one base64 ciphertext per line, as
'kms encrypt' prints them; blank lines are kept) from key NAME to the latest
version of NAME, or with --to to the latest version of another key, and
rewrites the FILE. The server decrypts and encrypts again: plaintexts never
leave it. A FILE is rewritten (atomically) only when all its ciphertexts
were; a failure names the file and line, and leaves that file as it was.
A progress bar is shown on a terminal. Needs KEY:REWRAP on both keys.

${ENCLAVE_HELP}
  --to KEY            Rewrap to KEY instead of NAME's latest version
  --context TEXT      The associated data the ciphertexts were made with
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, to: { type: "string" }, context: { type: "string" } },
    positionals: [2, 10_000],
    async run(args) {
      const [name, ...files] = args.positionals;
      const enclave = enclaveOf(args);
      const to = (args.values.to as string | undefined) ?? "";
      const context = new TextEncoder().encode((args.values.context as string | undefined) ?? "");
      const texts = files.map((file) => {
        try {
          return readFileSync(file, "utf8").split("\n");
        } catch (err) {
          throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
        }
      });
      const client = connect(args);
      const progress = new Progress(texts.reduce((n, lines) => n + lines.filter((l) => l.trim()).length, 0));
      const results: FileResult[] = [];
      for (const [k, file] of files.entries()) {
        const r = await rewrapLines(client, enclave, name, to, context, file, texts[k], progress);
        if ("error" in r) {
          results.push({ file, ciphertexts: 0, error: r.error });
          continue;
        }
        await writeFileAtomic(file, new TextEncoder().encode(r.text), statSync(file).mode & 0o777);
        results.push({ file, ciphertexts: r.count });
      }
      progress.end();
      const failed = results.filter((r) => r.error);
      const done = results.filter((r) => !r.error);
      const target = to || name;
      const latest = done.length ? ((await client.keyStatus(enclave, target)).version as number) : 0;
      output(args, { key: target, version: latest, files: results }, () =>
        [
          ...failed.map((r) => `kms: ${r.error} (file left unchanged)`),
          `Rewrapped ${done.reduce((n, r) => n + r.ciphertexts, 0)} ciphertext(s) in ${done.length} file(s) to ${target}${latest ? ` v${latest}` : ""}` +
          (failed.length ? `; ${failed.length} file(s) failed` : ""),
        ].join("\n"));
      return failed.length ? 1 : 0;
    },
  },
];
