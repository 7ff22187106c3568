/** Cluster: the nodes, their roles and state; adding and removing nodes (SysAdmin). */
import { call } from "../api.ts";
import { fill, h, input } from "../dom.ts";
import { act, confirmDialog, duration, show, table } from "../ui.ts";

interface ServerStatus {
  version: string; host: string; role: string; commit: number; node_id: number; leader_id: number;
  uptime: unknown; hsm: string[]; hsm_active: string[]; sys_os: string; sys_cpu_arch: string; sys_mem_heap_used: number;
}
interface ClusterStatus {
  nodes_up: Record<string, ServerStatus>;
  nodes_down: Record<string, string>;
}

/** How often the page refreshes itself. */
const REFRESH_MS = 5_000;

export function clusterPage(main: HTMLElement): () => void {
  const view = h("div");
  const out = h("div", { "aria-live": "polite" });
  const refresh = () => show(view, () => call<ClusterStatus>("CLUSTER:STATUS", ""), render, "Loading the cluster's status…");

  const render = (st: ClusterStatus) => {
    const rows = [
      ...Object.entries(st.nodes_up).map(([id, n]) => ({ id: Number(id), addr: n.host, up: n })),
      ...Object.entries(st.nodes_down).map(([id, addr]) => ({ id: Number(id), addr, up: undefined })),
    ].sort((a, b) => a.id - b.id);
    const down = rows.filter((r) => !r.up).length;
    const leader = rows.find((r) => r.up?.role === "Leader");
    return [
      h("p", { class: down ? "status error" : "status ok", role: "status" },
        down ? `Writes: not possible (${down} node${down > 1 ? "s are" : " is"} down)` : "Writes: possible (every node is up)",
        leader ? ` · leader: node ${leader.id} (${leader.addr})` : " · no leader"),
      table("Nodes of the cluster", ["ID", "Address", "Role", "Commit", "State", "Version", "Uptime", "HSM keys", ""], rows.map((r) => [
        String(r.id),
        h("code", null, r.addr),
        r.up ? h("span", { class: r.up.role === "Leader" ? "badge leader" : "" }, r.up.role) : "-",
        r.up ? String(r.up.commit) : "-",
        h("span", { class: r.up ? "badge up" : "badge down" }, r.up ? "up" : "down"),
        r.up?.version ?? "-",
        r.up ? duration(r.up.uptime) : "-",
        r.up ? r.up.hsm.map((k) => `${k}${r.up!.hsm_active.includes(k) ? " (active)" : ""}`).join(", ") : "-",
        h("span", { class: "actions" }, rows.length > 1
          ? h("button", { type: "button", class: "secondary", "aria-label": `Remove node ${r.id} (${r.addr})`, onclick: () => removeNode(r.addr) }, "Remove")
          : null),
      ])),
    ];
  };

  const removeNode = async (host: string) => {
    const yes = await confirmDialog({
      title: `Remove ${host}?`, confirm: "Remove node", danger: true, typed: host,
      body: h("p", null, "The node leaves the cluster and serves nothing more. Wipe its data directory before reusing it."),
    });
    if (yes && await act(out, null, async () => (await call("CLUSTER:REMOVENODE", "", { host }), `Removed ${host} from the cluster`))) void refresh();
  };

  const addForm = h("form", { class: "row", "aria-labelledby": "add-node" },
    input("Address (HOST:PORT)", "host", { placeholder: "10.0.0.2:7373", required: true }),
    h("button", { type: "submit" }, "Add node"));
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const host = (addForm.querySelector("[name=host]") as HTMLInputElement).value.trim();
    const ok = await act(out, addForm.querySelector("button"), async () => (await call("CLUSTER:ADDNODE", "", { host }), `Added ${host} to the cluster`));
    if (ok) void refresh();
  });

  fill(main,
    h("h1", null, "Cluster"),
    h("section", { class: "panel", "aria-label": "Nodes" },
      h("div", { class: "row" }, h("p", { class: "grow muted" }, `Every node's role, commit index and state; refreshed every ${REFRESH_MS / 1000} s.`),
        h("button", { type: "button", class: "secondary", onclick: () => void refresh() }, "Refresh")),
      view),
    h("section", { class: "panel" },
      h("h2", { id: "add-node" }, "Add a node"),
      h("p", { class: "muted" }, "A fresh server started with the same HSM key; it receives the whole state. SysAdmins only."),
      addForm, out));
  void refresh();
  const timer = setInterval(() => {
    // Refresh quietly: only when no dialog is open and the last answer is on screen.
    if (!document.querySelector("dialog[open]") && !view.querySelector("[role=status].loading")) {
      call<ClusterStatus>("CLUSTER:STATUS", "").then((st) => fill(view, render(st)), () => {});
    }
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
