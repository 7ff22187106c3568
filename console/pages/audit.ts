/**
 * The audit stream (GET /v1/log/audit, JSON lines, read through the console
 * as the signed-in identity), newest first, filtered by identity, enclave,
 * command and status.
 */
import { fill, h, input } from "../dom.ts";
import { errorBox, loading, table } from "../ui.ts";
import { fetchText, Unavailable } from "./metrics.ts";

/** Records kept on the page (the newest). */
const KEEP = 500;

interface Row {
  time: string; identity: string; enclave: string; command: string; object: string; status: string; duration: string;
}

/** A record's fields, from kms's audit records or KES-style ones ({request: {…}, response: {…}}). */
function rowOf(r: Record<string, unknown>): Row {
  const req = (r.request ?? {}) as Record<string, unknown>, res = (r.response ?? {}) as Record<string, unknown>;
  const str = (...xs: unknown[]) => String(xs.find((x) => x !== undefined && x !== null) ?? "");
  return {
    time: str(r.time), identity: str(r.identity, req.identity), enclave: str(r.enclave, req.enclave),
    command: str(r.command, req.command, req.path), object: str(r.object, r.name), status: str(r.status, res.code, res.status),
    duration: str(r.duration, res.time),
  };
}

export function auditPage(main: HTMLElement): () => void {
  const rows: Row[] = [];
  const view = h("div", { class: "audit-list" });
  const status = h("div", { "aria-live": "polite" }, loading("Connecting to the audit stream…"));
  const filters = h("form", { class: "row", role: "search", "aria-label": "Filter audit records" },
    input("Identity", "identity"), input("Enclave", "enclave"), input("Command", "command", { placeholder: "KEY:DECRYPT" }), input("Status", "status", { placeholder: "403" }));
  const render = () => {
    const f = (n: string) => (filters.querySelector(`[name=${n}]`) as HTMLInputElement).value.trim().toLowerCase();
    const want = { identity: f("identity"), enclave: f("enclave"), command: f("command"), status: f("status") };
    const shown = rows.filter((r) => (Object.keys(want) as Array<keyof typeof want>).every((k) => !want[k] || r[k].toLowerCase().includes(want[k])));
    fill(view, table("Audit records, newest first", ["Time", "Identity", "Enclave", "Command", "Object", "Status", "Duration"],
      shown.map((r) => [r.time, h("code", null, r.identity), r.enclave, r.command, r.object, r.status, r.duration]), "No records (yet) match."));
  };
  filters.addEventListener("input", render);
  filters.addEventListener("submit", (ev) => ev.preventDefault());
  const controller = new AbortController();

  (async () => {
    try {
      const res = await fetchText("/audit", controller.signal);
      fill(status, h("p", { class: "muted", role: "status" }, "Streaming this node's audit records."));
      render();
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const line of lines) {
          if (!line.trim()) continue;
          try {
            rows.unshift(rowOf(JSON.parse(line)));
          } catch {
            // a line that is not JSON is not a record
          }
        }
        rows.length = Math.min(rows.length, KEEP);
        render();
      }
      fill(status, h("p", { class: "status info", role: "status" }, "The audit stream ended."));
    } catch (err) {
      if ((err as Error).name === "AbortError") return;
      if (err instanceof Unavailable) {
        fill(status, h("div", { class: "status info", role: "status", "data-testid": "unavailable" },
          h("strong", null, "The audit trail is not available on this server."),
          h("p", null, "This node does not serve /v1/log/audit (a kms version without the audit trail).")));
        return;
      }
      fill(status, errorBox(err));
    }
  })();

  fill(main, h("h1", null, "Audit"), status, h("section", { class: "panel" }, filters, view));
  return () => controller.abort();
}
