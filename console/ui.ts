/** Shared pieces of every page: loading and error states, messages, dialogs. */
import { ApiError } from "./api.ts";
import { kesHex } from "./apikey.ts";
import { type Child, fill, h } from "./dom.ts";
import { ctx } from "./state.ts";

/** The CLI's words for an error: the message with its HTTP status, and hints pointing to the fix. */
export function describe(err: unknown, enclave = ctx.enclave): { message: string; hints: string[] } {
  if (!(err instanceof ApiError)) return { message: `unexpected error: ${(err as Error)?.message ?? String(err)}`, hints: [] };
  if (err.status === 0) return { message: err.message, hints: [] };
  const message = `${err.message} (HTTP ${err.status})`;
  const id = ctx.session?.identity;
  if (err.status === 403 && id && err.message.startsWith("access denied")) {
    // As the CLI says it: only what the caller already knows, its own identity.
    return {
      message,
      hints: [
        `you are ${id} (KES identity ${kesHex(id)})`,
        `an admin of the enclave can add you (kms add-identity --enclave ${enclave || "ENCLAVE"} --policy POLICY ${id})`,
        "or give your identity a policy that allows this command (kms ls-commands lists the names)",
      ],
    };
  }
  if (err.status === 503) return { message, hints: ["writes need every node of the cluster: the Cluster page shows which are down"] };
  return { message, hints: [] };
}

/** An error box (role=alert) with the message and hints; optionally a retry button. */
export function errorBox(err: unknown, retry?: () => void): HTMLElement {
  const { message, hints } = describe(err);
  return h("div", { class: "status error", role: "alert" },
    h("strong", null, message),
    hints.length ? h("pre", null, hints.join("\n")) : null,
    retry ? h("p", null, h("button", { class: "secondary", type: "button", onclick: retry }, "Retry")) : null);
}

/** A success message (role=status). */
export function okBox(text: Child): HTMLElement {
  return h("div", { class: "status ok", role: "status" }, text);
}

/** A "loading" line (role=status). */
export function loading(what = "Loading…"): HTMLElement {
  return h("p", { class: "status loading", role: "status", "aria-live": "polite" }, what);
}

/**
 * Fills `el` with a loading line, then with `render(data)` once `load`
 * resolves, or with its error and a Retry button.
 */
export async function show<T>(el: Element, load: () => Promise<T>, render: (data: T) => Child, what?: string): Promise<void> {
  fill(el, loading(what));
  try {
    const data = await load();
    fill(el, render(data));
  } catch (err) {
    fill(el, errorBox(err, () => void show(el, load, render, what)));
  }
}

/**
 * Runs an action from a form or button: disables `button` while it runs,
 * then shows the result (or the error) in `out`.
 */
export async function act(out: Element, button: HTMLButtonElement | null, run: () => Promise<Child>): Promise<boolean> {
  if (button) button.disabled = true;
  fill(out, loading("Working…"));
  try {
    fill(out, okBox(await run()));
    return true;
  } catch (err) {
    fill(out, errorBox(err));
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * A modal dialog (keyboard: Tab stays inside, Escape cancels). With `typed`,
 * the confirm button works only once that exact text is typed.
 */
export function confirmDialog(opts: { title: string; body: Child; confirm: string; danger?: boolean; typed?: string; noCancel?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const typedInput = opts.typed !== undefined
      ? h("input", { type: "text", name: "typed", autocomplete: "off", spellcheck: "false", "aria-describedby": "typed-help" })
      : null;
    const ok = h("button", { type: "button", class: opts.danger ? "danger" : "", disabled: opts.typed !== undefined }, opts.confirm);
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, opts.title),
      h("div", null, opts.body),
      typedInput ? h("label", { class: "field" }, h("span", { id: "typed-help" }, "Type ", h("code", null, opts.typed!), " to confirm"), typedInput) : null,
      h("div", { class: "buttons" }, opts.noCancel ? null : cancel, ok));
    typedInput?.addEventListener("input", () => (ok.disabled = typedInput.value !== opts.typed));
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    // A modal dialog lets Tab leave it for the browser's own controls: wrap around inside it instead.
    dialog.addEventListener("keydown", (e) => {
      if (e.key !== "Tab") return;
      const items = [...dialog.querySelectorAll<HTMLElement>("button, input, textarea, select, a[href]")]
        .filter((el) => !(el as HTMLButtonElement).disabled && el.offsetParent !== null);
      const first = items[0], last = items[items.length - 1];
      const at = document.activeElement;
      if (!e.shiftKey && at === last) first?.focus();
      else if (e.shiftKey && at === first) last?.focus();
      else return;
      e.preventDefault();
    });
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (typedInput ?? (opts.noCancel ? ok : cancel)).focus();
  });
}

/** A time from a protobuf Timestamp ({seconds, nanos}) in RFC 3339, as the CLI prints it. */
export function time(ts: unknown): string {
  const t = ts as { seconds?: number; nanos?: number } | undefined;
  if (!t?.seconds) return "-";
  return new Date(t.seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** A duration from a protobuf Duration, for people. */
export function duration(d: unknown): string {
  const x = d as { seconds?: number } | undefined;
  const s = x?.seconds ?? 0;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A table with a caption (for screen readers) and header cells scoped to columns. */
export function table(caption: string, headers: string[], rows: Child[][], empty = "Nothing here yet."): HTMLElement {
  if (rows.length === 0) return h("p", { class: "status info" }, empty);
  return h("table", null,
    h("caption", { class: "sr-only" }, caption),
    h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c))))));
}
