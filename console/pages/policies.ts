/**
 * Policies of an enclave: list, an editor that checks a policy as the CLI
 * checks a policy file, delete, and "would this identity be allowed to …",
 * decided by the server's own authorisation function.
 */
import YAML from "yaml";
import { api, call, listAll } from "../api.ts";
import { parsePolicyText, PolicyFileError, type PolicyCommandNames, type PolicyRules } from "../../lib/state/policy-file.ts";
import { authorize } from "../../lib/state/policy.ts";
import type { PolicyRecord, Privilege } from "../../lib/state/types.ts";
import { ruleSets } from "../../lib/wire/rules.ts";
import { fill, h, input, select } from "../dom.ts";
import { act, confirmDialog, errorBox, show, table, time } from "../ui.ts";
import { type Identity, PRIVILEGES } from "./identities.ts";

type RuleSets = Record<string, { rules: Record<string, unknown> }>;
interface Policy {
  name: string; allow: RuleSets; deny: RuleSets; created_at: unknown; created_by: string;
}

const EXAMPLE = `allow:
  KEY:CREATE: minio-*
  KEY:GENERATE: minio-*
  KEY:DECRYPT: minio-*
  KEY:STATUS: minio-*
  KEY:LIST: minio-*
deny:
  KEY:DELETE: "*"
`;

function rulesOf(sets: RuleSets): Record<string, string[]> {
  return Object.fromEntries(Object.entries(sets ?? {}).map(([cmd, s]) => [cmd, Object.keys(s.rules ?? {})]));
}

let names: Promise<PolicyCommandNames> | undefined;

/** The server's command names, as `kms ls-commands` has them. */
function commandNames(): Promise<PolicyCommandNames> {
  names ??= api<{ commands: Array<{ name: string; grantable: boolean }> }>("GET", "/commands").then(({ commands }) => ({
    all: commands.map((c) => c.name), grantable: commands.filter((c) => c.grantable).map((c) => c.name),
  }));
  names.catch(() => (names = undefined));
  return names;
}

export function policiesPage(main: HTMLElement, args: string[]): void {
  const enclave = args[0] ?? "";
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });

  const refresh = () => show(view, () => listAll<Policy>("POLICY:LIST", enclave, "policies"), (list) =>
    table(`Policies in enclave ${enclave}`, ["Name", "Created", "Created by", ""], list.map((p) => [
      h("code", null, p.name), time(p.created_at), h("code", null, p.created_by),
      h("span", { class: "actions" },
        h("button", { type: "button", class: "secondary", "aria-label": `Edit ${p.name}`, onclick: () => edit(p.name) }, "Edit"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${p.name}`, onclick: () => remove(p.name) }, "Delete")),
    ]), "No policies in this enclave (or none you may list)."), "Loading policies…");

  // The editor.
  const nameInput = h("input", { type: "text", name: "policy-name", required: true, maxlength: 80, autocomplete: "off", spellcheck: "false" });
  const text = h("textarea", { name: "policy-text", rows: 12, spellcheck: "false", "aria-describedby": "policy-check" });
  text.value = EXAMPLE;
  const problems = h("div", { id: "policy-check", "aria-live": "polite" });
  let parsed: PolicyRules | undefined;
  const check = async () => {
    try {
      parsed = parsePolicyText(text.value, "", await commandNames());
      const n = Object.keys(parsed.allow).length + Object.keys(parsed.deny).length;
      fill(problems, h("p", { class: "status ok" }, `Valid: ${n} rule(s).`));
    } catch (err) {
      parsed = undefined;
      fill(problems, err instanceof PolicyFileError
        ? h("div", { class: "status error" }, h("strong", null, err.message.split("\n")[0]), h("pre", null, err.message.split("\n").slice(1).join("\n")))
        : errorBox(err));
    }
  };
  text.addEventListener("input", () => void check());
  const editor = h("form", { "aria-labelledby": "policy-editor" },
    h("div", { class: "row" }, h("label", { class: "field" }, "Name", nameInput)),
    h("label", { class: "field" }, "Rules (YAML or JSON, as in a policy file)", text),
    problems,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Save policy")));
  editor.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await check();
    if (!parsed) return;
    const rules = parsed;
    const name = nameInput.value.trim();
    if (await act(out, editor.querySelector("button"), async () => {
      await call("POLICY:CREATE", enclave, { name, allow: ruleSets(rules.allow), deny: ruleSets(rules.deny) });
      return `Saved policy ${name} in enclave ${enclave}`;
    })) void refresh();
  });

  const edit = async (name: string) => {
    await act(out, null, async () => {
      const p = await call<Policy>("POLICY:GET", enclave, { name });
      nameInput.value = p.name;
      text.value = YAML.stringify({ allow: rulesOf(p.allow), deny: rulesOf(p.deny) });
      void check();
      text.focus();
      return `Editing policy ${name}: saving replaces it`;
    });
  };

  const remove = async (name: string) => {
    const yes = await confirmDialog({
      title: `Delete policy ${name}?`, confirm: "Delete policy", danger: true,
      body: h("p", null, "Identities holding it lose what it allowed, at once."),
    });
    if (yes && await act(out, null, async () => (await call("POLICY:DELETE", enclave, { name }), `Deleted policy ${name}`))) void refresh();
  };

  // Would this identity be allowed to …?
  const whoOut = h("div", { "aria-live": "polite" });
  const who = h("form", { class: "row", "aria-labelledby": "policy-try" },
    input("Identity", "who", { placeholder: "h1:…", size: 46, required: true }),
    select("Command", "command", []),
    input("Key, policy or identity name", "object", { placeholder: "minio-default-key" }),
    h("button", { type: "submit", class: "secondary" }, "Check"));
  commandNames().then((n) => fill(who.querySelector("[name=command]")!, n.grantable.map((c) => h("option", { value: c }, c))), () => {});
  who.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const get = (n: string) => (who.querySelector(`[name=${n}]`) as HTMLInputElement).value.trim();
    const [identity, command, object] = [get("who"), get("command"), get("object")];
    await act(whoOut, who.querySelector("button"), async () => {
      const i = await call<Identity>("IDENTITY:STATUS", enclave, { identity });
      const privilege = PRIVILEGES[i.privilege] as Privilege;
      let policy: PolicyRecord | undefined;
      if (i.policy) {
        const p = await call<Policy>("POLICY:GET", enclave, { name: i.policy });
        policy = { enclave, name: p.name, allow: rulesOf(p.allow), deny: rulesOf(p.deny), createdAt: 0, createdBy: p.created_by };
      }
      const allowed = authorize({ identity, privilege, enclave, policy }, command, enclave, object || undefined);
      const because = privilege === "User" ? (i.policy ? `by policy ${i.policy}` : "(it has no policy)") : `(privilege ${privilege})`;
      return h("span", { "data-testid": "verdict" }, `${allowed ? "Allowed" : "Denied"}: ${command}${object ? ` on ${object}` : ""} for this identity ${because}`);
    });
  });

  fill(main,
    h("h1", null, "Policies in ", h("code", null, enclave || "(no enclave)")),
    out,
    h("section", { class: "panel", "aria-label": "Policies" }, view),
    h("section", { class: "panel" }, h("h2", { id: "policy-editor" }, "Create or replace a policy"), editor),
    h("section", { class: "panel" }, h("h2", { id: "policy-try" }, "Would this identity be allowed to …?"),
      h("p", { class: "muted" }, "Decided from the identity's record and policy in this enclave, by the same rules the server applies."),
      who, whoOut));
  if (!enclave) fill(view, h("p", { class: "status info" }, "Choose an enclave first."));
  else void refresh();
  void check();
}
