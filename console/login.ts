/**
 * The login page: the API key is turned into a key pair here (apikey.ts),
 * the key pair signs the server's challenge, and only the public key and the
 * signature are sent. The key text is cleared from the field at once and
 * kept nowhere (no storage, no cookie).
 */
import { api, ApiError, type SessionInfo } from "./api.ts";
import { InvalidApiKey, kesHex, keyPairOf, toBase64 } from "./apikey.ts";
import { loginMessage } from "../lib/api/console/protocol.ts";
import { fill, h } from "./dom.ts";
import { loading } from "./ui.ts";

/** Shows the login form in `root`; resolves with the session once signed in. */
export function loginPage(root: HTMLElement, notice?: string): Promise<SessionInfo> {
  return new Promise((resolve) => {
    const out = h("div", { "aria-live": "polite" });
    const keyInput = h("input", {
      type: "password", name: "apikey", id: "apikey", autocomplete: "off", spellcheck: "false", required: true,
      placeholder: "k1:…", "aria-describedby": "apikey-help",
    });
    const button = h("button", { type: "submit" }, "Sign in");
    const form = h("form", { class: "login panel", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title" }, "kms console"),
      notice ? h("div", { class: "status info", role: "status" }, notice) : null,
      h("label", { class: "field", for: "apikey" }, "API key"),
      keyInput,
      h("p", { id: "apikey-help" },
        "Paste an API key (k1:…, k2:… or kes:v1:…). It stays in this page: the page signs a one-time challenge with it and sends only the signature and the public key."),
      h("div", { class: "row" }, button),
      out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = keyInput.value;
      keyInput.value = "";
      button.disabled = true;
      fill(out, loading("Signing in…"));
      let identity = "";
      try {
        const pair = await keyPairOf(text);
        identity = pair.identity;
        const { challenge } = await api<{ challenge: string }>("POST", "/challenge");
        const signature = await pair.sign(loginMessage(challenge));
        const session = await api<SessionInfo>("POST", "/login", { challenge, public_key: toBase64(pair.spki), signature: toBase64(signature) });
        resolve(session);
      } catch (err) {
        const e = err as Error;
        const lines = err instanceof ApiError ? [`${e.message} (HTTP ${(err as ApiError).status})`] : [err instanceof InvalidApiKey ? e.message : `unexpected error: ${e.message}`];
        if (err instanceof ApiError && err.status === 403 && identity) {
          lines.push(`you are ${identity} (KES identity ${kesHex(identity)})`, "an admin must add this identity to an enclave (kms add-identity) before it can sign in");
        }
        fill(out, h("div", { class: "status error", role: "alert" }, h("strong", null, lines[0]), lines.length > 1 ? h("pre", null, lines.slice(1).join("\n")) : null));
        button.disabled = false;
        keyInput.focus();
      }
    });
    fill(root, h("main", { id: "main", tabindex: "-1" }, form));
    keyInput.focus();
  });
}
