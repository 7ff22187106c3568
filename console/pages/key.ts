/** One key: every version, rotate, delete a version or the whole key. */
import { call } from "../api.ts";
import { fill, h } from "../dom.ts";
import { go, href } from "../state.ts";
import { act, confirmDialog, show, table, time } from "../ui.ts";
import { deleteKey, type KeyStatus, rotateKey } from "./keys.ts";

export function keyPage(main: HTMLElement, args: string[]): void {
  const [enclave = "", name = ""] = args;
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });
  const refresh = () => show(view, () => call<{ name: string; versions: KeyStatus[] }>("KEY:VERSIONS", enclave, { name }), (r) => {
    const latest = r.versions[r.versions.length - 1];
    return [
      h("dl", { class: "kv" },
        h("dt", null, "Name"), h("dd", null, h("code", null, r.name)),
        h("dt", null, "Version"), h("dd", { "data-testid": "latest-version" }, String(latest.version)),
        h("dt", null, "Type"), h("dd", null, latest.type),
        h("dt", null, "Created"), h("dd", null, time(latest.created_at)),
        h("dt", null, "Created by"), h("dd", null, h("code", null, latest.created_by))),
      h("h2", null, `Versions (${r.versions.length})`),
      table(`Versions of key ${name}`, ["Version", "Type", "Created", "Created by", ""], [...r.versions].reverse().map((kv) => [
        `v${kv.version}${kv === latest ? " (latest)" : ""}`, kv.type, time(kv.created_at), h("code", null, kv.created_by),
        h("span", { class: "actions" }, r.versions.length > 1
          ? h("button", { type: "button", class: "secondary", "aria-label": `Delete version ${kv.version}`, onclick: () => deleteVersion(kv.version, r.versions.length) }, "Delete version")
          : null),
      ])),
    ];
  }, "Loading the key…");

  const deleteVersion = async (version: number, count: number) => {
    const yes = await confirmDialog({
      title: `Delete version ${version} of ${name}?`, confirm: "Delete version", danger: true,
      body: h("p", null, `Ciphertexts made with v${version} can no longer be decrypted; ${count - 1} version(s) remain.`),
    });
    if (yes && await act(out, null, async () => (await call("KEY:DELETE", enclave, { name, version }), `Deleted ${name} v${version} in enclave ${enclave}`))) void refresh();
  };

  fill(main,
    h("p", null, h("a", { href: href("keys", enclave) }, `← Keys in ${enclave}`)),
    h("h1", null, "Key ", h("code", null, name)),
    h("div", { class: "row" },
      h("button", { type: "button", onclick: async () => (await rotateKey(out, enclave, name)) && refresh() }, "Rotate (add a version)"),
      h("a", { href: href("playground", enclave, name) }, "Try it in the playground"),
      h("span", { class: "grow" }),
      h("button", { type: "button", class: "danger", onclick: async () => (await deleteKey(out, enclave, name)) && go("keys", enclave) }, "Delete key")),
    out,
    h("section", { class: "panel", "aria-label": "Key status" }, view));
  void refresh();
}
