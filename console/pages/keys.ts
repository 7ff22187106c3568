/** Keys of an enclave: search and paging, create (with a type), import, rotate, delete. */
import { call } from "../api.ts";
import { fromBase64, toBase64 } from "../apikey.ts";
import { fill, h, input, select } from "../dom.ts";
import { href } from "../state.ts";
import { act, confirmDialog, show, table, time } from "../ui.ts";

export interface KeyStatus {
  name: string; version: number; type: string; created_at: unknown; created_by: string;
}

/** Keys per page. */
const PAGE = 20;

/** Deletes a whole key after a typed confirmation; true when it is gone. */
export async function deleteKey(out: Element, enclave: string, name: string): Promise<boolean> {
  const yes = await confirmDialog({
    title: `Delete key ${name}?`, confirm: "Delete key", danger: true, typed: name,
    body: [
      h("p", null, `This deletes key ${name} in enclave ${enclave} with all its versions.`),
      h("p", null, h("strong", null, "Ciphertexts made with it can no longer be decrypted.")),
    ],
  });
  return yes && act(out, null, async () => (await call("KEY:DELETE", enclave, { name, all_versions: true }), `Deleted key ${name} in enclave ${enclave} (all versions)`));
}

/** Adds a version to a key (rotation); true on success. */
export function rotateKey(out: Element, enclave: string, name: string): Promise<boolean> {
  return act(out, null, async () => {
    await call("KEY:CREATE", enclave, { name, add_version: true });
    const st = await call<KeyStatus>("KEY:STATUS", enclave, { name });
    return `Added version ${name} v${st.version} in enclave ${enclave}`;
  });
}

export function keysPage(main: HTMLElement, args: string[]): void {
  const enclave = args[0] ?? "";
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });
  // Paging: the continue_at of each page seen, so Previous works too.
  let starts = [""];
  let prefix = "";

  const refresh = () => show(view,
    () => call<{ keys: KeyStatus[]; continue_at: string }>("KEY:LIST", enclave, { prefix, continue_at: starts[starts.length - 1], limit: PAGE }),
    (r) => [
      table(`Keys in enclave ${enclave}`, ["Name", "Latest version", "Type", "Created", "Created by", ""], r.keys.map((k) => [
        h("a", { href: href("key", enclave, k.name) }, k.name),
        `v${k.version}`, k.type, time(k.created_at), h("code", null, k.created_by),
        h("span", { class: "actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Rotate ${k.name}`, onclick: async () => (await rotateKey(out, enclave, k.name)) && refresh() }, "Rotate"),
          h("button", { type: "button", class: "danger", "aria-label": `Delete ${k.name}`, onclick: async () => (await deleteKey(out, enclave, k.name)) && refresh() }, "Delete")),
      ]), prefix ? `No keys starting with '${prefix}' (or none you may list).` : "No keys (or none you may list)."),
      h("div", { class: "pager" },
        h("button", { type: "button", class: "secondary", disabled: starts.length === 1, onclick: () => (starts.pop(), refresh()) }, "Previous page"),
        h("span", { class: "muted" }, `Page ${starts.length}`),
        h("button", { type: "button", class: "secondary", disabled: !r.continue_at, onclick: () => (starts.push(r.continue_at), refresh()) }, "Next page")),
    ], "Loading keys…");

  const search = h("form", { class: "row", role: "search", "aria-label": "Search keys" },
    input("Name starts with", "prefix", { type: "search", placeholder: "minio-" }),
    h("button", { type: "submit", class: "secondary" }, "Search"));
  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    prefix = (search.querySelector("[name=prefix]") as HTMLInputElement).value;
    starts = [""];
    void refresh();
  });

  const create = h("form", { class: "row", "aria-labelledby": "create-key" },
    input("Name", "name", { required: true, maxlength: 80, placeholder: "minio-default-key" }),
    select("Type", "type", ["AES256", "ChaCha20"]),
    h("button", { type: "submit" }, "Create key"));
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = (create.querySelector("[name=name]") as HTMLInputElement).value.trim();
    const type = (create.querySelector("[name=type]") as HTMLSelectElement).value;
    if (await act(out, create.querySelector("button"), async () => (await call("KEY:CREATE", enclave, { name, type }), `Created key ${name} v1 in enclave ${enclave}`))) {
      create.reset();
      void refresh();
    }
  });

  const imp = h("form", { class: "row", "aria-labelledby": "import-key" },
    input("Name", "name", { required: true, maxlength: 80 }),
    select("Type", "type", ["AES256", "ChaCha20"]),
    h("label", { class: "field grow" }, "Key (32 bytes, base64)",
      h("input", { type: "password", name: "material", autocomplete: "off", spellcheck: "false", required: true })),
    h("button", { type: "submit" }, "Import key"));
  imp.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const field = imp.querySelector("[name=material]") as HTMLInputElement;
    const name = (imp.querySelector("[name=name]") as HTMLInputElement).value.trim();
    const type = (imp.querySelector("[name=type]") as HTMLSelectElement).value;
    const bytes = fromBase64(field.value.trim());
    if (!bytes || bytes.length !== 32) {
      fill(out, h("div", { class: "status error", role: "alert" }, "invalid key: must be 32 bytes, in base64"));
      return;
    }
    field.value = "";
    if (await act(out, imp.querySelector("button"), async () => (await call("KEY:IMPORT", enclave, { name, type, key: toBase64(bytes) }), `Imported key ${name} in enclave ${enclave}`))) {
      imp.reset();
      void refresh();
    }
  });

  fill(main,
    h("h1", null, "Keys in ", h("code", null, enclave || "(no enclave)")),
    out,
    h("section", { class: "panel", "aria-label": "Key list" }, search, view),
    h("section", { class: "panel" }, h("h2", { id: "create-key" }, "Create a key"), create,
      h("h2", { id: "import-key" }, "Import a key"),
      h("p", { class: "muted" }, "Key material you hold (e.g. from KES): ciphertexts made under it elsewhere decrypt here."),
      imp));
  if (!enclave) {
    fill(view, h("p", { class: "status info" }, "Choose an enclave first (Enclaves page, or the selector above)."));
    return;
  }
  void refresh();
}

