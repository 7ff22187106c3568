/**
 * Identities of an enclave: list, create (with an API key made in this
 * page, offered for download once), assign a policy, delete.
 */
import { call, listAll } from "../api.ts";
import { newApiKey } from "../apikey.ts";
import { fill, h, labelled, select } from "../dom.ts";
import { ctx } from "../state.ts";
import { act, confirmDialog, show, table, time } from "../ui.ts";

export interface Identity {
  identity: string; privilege: number; policy: string; created_at: unknown; created_by: string;
  is_service_account: boolean; service_accounts: string[]; tags: Record<string, string>;
}

/** Privileges by the rank the protocol sends. */
export const PRIVILEGES = ["", "SysAdmin", "Admin", "User"];

export function identitiesPage(main: HTMLElement, args: string[]): void {
  const enclave = args[0] ?? "";
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });
  let policies: string[] = [];

  const refresh = () => show(view, async () => {
    const [ids, pols] = await Promise.all([
      listAll<Identity>("IDENTITY:LIST", enclave, "identities"),
      listAll<{ name: string }>("POLICY:LIST", enclave, "policies").catch(() => []),
    ]);
    policies = pols.map((p) => p.name);
    fill(policySelect, h("option", { value: "" }, "(none)"), policies.map((p) => h("option", { value: p }, p)));
    return ids;
  }, (ids) => table(`Identities in enclave ${enclave}`, ["Identity", "Privilege", "Policy", "Created", "Created by", ""], ids.map((i) => [
    h("code", null, i.identity),
    PRIVILEGES[i.privilege] ?? String(i.privilege),
    i.policy || h("span", { class: "muted" }, "(none)"),
    time(i.created_at),
    h("code", null, i.created_by),
    h("span", { class: "actions" },
      h("button", { type: "button", class: "secondary", "aria-label": `Assign a policy to ${i.identity}`, onclick: () => assign(i.identity) }, "Assign policy"),
      i.identity !== ctx.session?.identity
        ? h("button", { type: "button", class: "danger", "aria-label": `Delete ${i.identity}`, onclick: () => remove(i.identity) }, "Delete")
        : null),
  ]), "No identities in this enclave (or none you may list)."), "Loading identities…");

  const assign = async (identity: string) => {
    const choice = h("select", { name: "policy" }, policies.map((p) => h("option", { value: p }, p)));
    const yes = await confirmDialog({
      title: "Assign a policy", confirm: "Assign",
      body: [h("p", null, h("code", null, identity)), labelled("Policy", choice)],
    });
    if (yes && await act(out, null, async () => (await call("POLICY:ASSIGN", enclave, { identity, policy: choice.value }), `Assigned policy ${choice.value} to ${identity}`))) void refresh();
  };

  const remove = async (identity: string) => {
    const yes = await confirmDialog({
      title: "Delete this identity?", confirm: "Delete identity", danger: true,
      body: [h("p", null, h("code", null, identity)), h("p", null, "It loses access at once, with the service accounts it created.")],
    });
    if (yes && await act(out, null, async () => (await call("IDENTITY:DELETE", enclave, { identity }), `Removed identity ${identity} from enclave ${enclave}`))) void refresh();
  };

  // Create: an identity given (h1:…), or one made here with a fresh API key.
  const policySelect = h("select", { name: "policy" }, h("option", { value: "" }, "(none)"));
  const idInput = h("input", { type: "text", name: "identity", required: true, autocomplete: "off", spellcheck: "false", placeholder: "h1:…", size: 48 });
  let generated: { apiKey: string; kesApiKey: string; identity: string } | undefined;
  const generate = h("button", { type: "button", class: "secondary" }, "Generate a new API key");
  generate.addEventListener("click", async () => {
    generated = await newApiKey();
    idInput.value = generated.identity;
    fill(out, h("p", { class: "status info", role: "status" }, "A new API key was made in this page. Its identity is filled in; create the identity to get the key (once)."));
  });
  const create = h("form", { "aria-labelledby": "create-identity" },
    h("div", { class: "row" },
      h("label", { class: "field grow" }, "Identity", idInput), generate),
    h("div", { class: "row" },
      select("Privilege", "privilege", ["User", "Admin", "SysAdmin"]),
      labelled("Policy", policySelect),
      h("button", { type: "submit" }, "Create identity")));
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const identity = idInput.value.trim();
    const privilege = (create.querySelector("[name=privilege]") as HTMLSelectElement).value;
    const policy = policySelect.value;
    const key = generated?.identity === identity ? generated : undefined;
    const ok = await act(out, create.querySelector("button[type=submit]"), async () => {
      await call("IDENTITY:CREATE", enclave, { identity, privilege });
      if (policy) await call("POLICY:ASSIGN", enclave, { identity, policy });
      return `Added identity ${identity} to enclave ${enclave}${policy ? ` with policy ${policy}` : ""}`;
    });
    if (!ok) return;
    generated = undefined;
    create.reset();
    void refresh();
    if (key) await offerKey(key, enclave);
  });

  fill(main,
    h("h1", null, "Identities in ", h("code", null, enclave || "(no enclave)")),
    out,
    h("section", { class: "panel", "aria-label": "Identities" }, view),
    h("section", { class: "panel" }, h("h2", { id: "create-identity" }, "Add an identity"), create));
  if (!enclave) fill(view, h("p", { class: "status info" }, "Choose an enclave first."));
  else void refresh();
}

/** Shows a new API key once, with a download; nothing keeps it after the dialog closes. */
async function offerKey(key: { apiKey: string; kesApiKey: string; identity: string }, enclave: string): Promise<void> {
  const text = `# kms API key of ${key.identity} (enclave ${enclave}), made ${new Date().toISOString()}\n` +
    `# Keep it secret: it is the only copy, and anyone holding it acts as this identity.\n` +
    `MINIO_KMS_API_KEY=${key.apiKey}\n# The same key for KES clients:\n# ${key.kesApiKey}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const download = h("a", { href: url, download: `kms-api-key-${enclave}.env`, class: "button" }, "Download the API key");
  await confirmDialog({
    title: "Save the API key now", confirm: "Done", noCancel: true,
    body: [
      h("p", null, "This is the only time the key is shown: the server never had it and this page forgets it when you close this dialog."),
      h("label", { class: "field" }, "API key", h("input", { type: "text", readonly: true, value: key.apiKey, name: "new-api-key", spellcheck: "false" })),
      h("p", null, download),
    ],
  });
  URL.revokeObjectURL(url);
}
