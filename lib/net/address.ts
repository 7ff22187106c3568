import os from "node:os";

/** A listen address split into host and port. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Parses `:7373`, `host:7373` or `[::1]:7373`; an empty host means every IPv4 interface. */
export function parseListenAddress(addr: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (m && port > 65535) throw new Error(`invalid address '${addr}': the port must be 0 to 65535, e.g. :7373 or 127.0.0.1:7373`);
  if (!m) {
    const hint = /^\d{1,5}$/.test(addr) ? ` (did you mean :${addr}?)` : "";
    throw new Error(`invalid address '${addr}': expected [HOST]:PORT, e.g. :7373 or 127.0.0.1:7373${hint}`);
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** The addresses a listener on `hostname` is reachable at: every local IPv4 address for a wildcard. */
export function reachableHosts(hostname: string): string[] {
  if (hostname !== "0.0.0.0" && hostname !== "::") return [hostname];
  return Object.values(os.networkInterfaces()).flat().filter((i) => i && i.family === "IPv4").map((i) => i!.address);
}

/** The URLs a client can use to reach a listener. */
export function reachableUrls(hostname: string, port: number): string[] {
  return reachableHosts(hostname).map((h) => `https://${h.includes(":") ? `[${h}]` : h}:${port}`);
}
