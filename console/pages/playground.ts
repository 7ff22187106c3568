/**
 * Playground: encrypt, decrypt, generate a data key and MAC with a key, as
 * the signed-in identity, to see what its policy allows.
 */
import { call } from "../api.ts";
import { fromBase64, toBase64 } from "../apikey.ts";
import { fill, h, input, select } from "../dom.ts";
import { act } from "../ui.ts";

const OPS = ["Encrypt", "Decrypt", "Generate a data key", "MAC"] as const;

/** Text as UTF-8 bytes in base64 (the API's form for bytes). */
function utf8(text: string): string {
  return toBase64(new TextEncoder().encode(text));
}

/** Decoded bytes shown as text when they are UTF-8, else as base64. */
function shown(b64: string): string {
  const bytes = fromBase64(b64) ?? new Uint8Array();
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return `(binary, base64) ${b64}`;
  }
}

export function playgroundPage(main: HTMLElement, args: string[]): void {
  const [enclave = "", key = ""] = args;
  const out = h("div", { "aria-live": "polite" });
  const data = h("label", { class: "field grow" }, "Plaintext", h("textarea", { name: "data", spellcheck: "false" }));
  const form = h("form", { "aria-label": "Cryptographic operation" },
    h("div", { class: "row" },
      input("Key", "key", { value: key, required: true }),
      select("Operation", "op", [...OPS]),
      input("Context (associated data)", "context", { placeholder: '{"bucket":"my-bucket"}' }),
      input("Length (bytes, for data keys)", "length", { type: "number", min: 1, max: 1024, value: 32 })),
    h("div", { class: "row", id: "data-row" }, data),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Run")));
  const op = form.querySelector("[name=op]") as HTMLSelectElement;
  const labels: Record<string, string> = { Encrypt: "Plaintext", Decrypt: "Ciphertext (base64)", "Generate a data key": "", MAC: "Message" };
  op.addEventListener("change", () => {
    data.firstChild!.textContent = labels[op.value];
    // A data key is made by the server: there is nothing to type.
    form.querySelector("#data-row")!.toggleAttribute("hidden", op.value === OPS[2]);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const get = (n: string) => (form.querySelector(`[name=${n}]`) as HTMLInputElement).value;
    const name = get("key").trim();
    const context = utf8(get("context"));
    const text = get("data");
    await act(out, form.querySelector("button[type=submit]"), async () => {
      switch (op.value) {
        case "Encrypt": {
          const r = await call<{ version: number; ciphertext: string }>("KEY:ENCRYPT", enclave, { name, plaintext: utf8(text), associated_data: context });
          return result(`Encrypted with ${name} v${r.version}`, [["Ciphertext", r.ciphertext]]);
        }
        case "Decrypt": {
          const ciphertext = fromBase64(text.trim());
          if (!ciphertext) throw new Error("the ciphertext is not base64");
          const r = await call<{ plaintext: string }>("KEY:DECRYPT", enclave, { name, ciphertext: toBase64(ciphertext), associated_data: context });
          return result(`Decrypted with ${name}`, [["Plaintext", shown(r.plaintext)]]);
        }
        case "Generate a data key": {
          const r = await call<{ version: number; plaintext: string; ciphertext: string }>("KEY:GENERATE", enclave, { name, associated_data: context, length: Number(get("length")) });
          return result(`Generated a data key with ${name} v${r.version}`, [["Plaintext", r.plaintext], ["Ciphertext", r.ciphertext]]);
        }
        default: {
          const r = await call<{ version: number; mac: string }>("KEY:MAC", enclave, { name, message: utf8(text) });
          return result(`MAC with ${name} v${r.version}`, [["MAC", r.mac]]);
        }
      }
    });
  });

  fill(main,
    h("h1", null, "Playground in ", h("code", null, enclave || "(no enclave)")),
    h("p", { class: "muted" }, "Runs as you: what your policy denies here, it denies to your applications too. Nothing here is stored."),
    h("section", { class: "panel" }, form),
    out);
}

function result(title: string, rows: Array<[string, string]>): HTMLElement {
  return h("div", null, h("strong", null, title),
    h("dl", { class: "kv out" }, rows.flatMap(([k, val]) => [h("dt", null, k), h("dd", null, h("code", { "data-testid": k.toLowerCase() }, val))])));
}
