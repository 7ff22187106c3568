/** Enclaves: list, create, delete (with a typed confirmation). SysAdmins only. */
import { call, listAll } from "../api.ts";
import { fill, h, input } from "../dom.ts";
import { ctx, href } from "../state.ts";
import { act, confirmDialog, show, table, time } from "../ui.ts";

interface Enclave {
  name: string; created_at: unknown; created_by: string;
}

export function enclavesPage(main: HTMLElement): void {
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });
  const refresh = () => show(view, () => listAll<Enclave>("ENCLAVE:LIST", "", "enclaves"), (list) =>
    table("Enclaves", ["Name", "Created", "Created by", ""], list.map((e) => [
      h("a", { href: href("keys", e.name) }, e.name),
      time(e.created_at),
      h("code", null, e.created_by),
      h("span", { class: "actions" },
        h("button", { type: "button", class: "danger", "aria-label": `Delete enclave ${e.name}`, onclick: () => remove(e.name) }, "Delete")),
    ]), "No enclaves yet: create one below."), "Loading enclaves…");

  const remove = async (name: string) => {
    const yes = await confirmDialog({
      title: `Delete enclave ${name}?`, confirm: "Delete enclave", danger: true, typed: name,
      body: [
        h("p", null, "This deletes the enclave with every key, policy and identity in it."),
        h("p", null, h("strong", null, "Ciphertexts made with its keys can never be decrypted again.")),
      ],
    });
    if (!yes) return;
    if (await act(out, null, async () => (await call("ENCLAVE:DELETE", "", { name }), `Deleted enclave ${name}`))) {
      if (ctx.enclave === name) ctx.enclave = "";
      void refresh();
    }
  };

  const form = h("form", { class: "row", "aria-labelledby": "create-enclave" },
    input("Name", "name", { required: true, maxlength: 80, placeholder: "tenant-1" }),
    h("button", { type: "submit" }, "Create enclave"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = (form.querySelector("[name=name]") as HTMLInputElement).value.trim();
    if (await act(out, form.querySelector("button"), async () => (await call("ENCLAVE:CREATE", "", { name }), `Created enclave ${name}`))) {
      form.reset();
      void refresh();
    }
  });

  fill(main,
    h("h1", null, "Enclaves"),
    out,
    h("section", { class: "panel" }, h("h2", { id: "create-enclave" }, "Create an enclave"), form),
    h("section", { class: "panel", "aria-label": "Enclaves" }, view));
  void refresh();
}
