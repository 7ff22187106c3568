/** What the whole page shares: the session and the enclave being worked in. Memory only. */
import type { SessionInfo } from "./api.ts";

export const ctx: { session: SessionInfo | undefined; enclave: string } = { session: undefined, enclave: "" };

/** Goes to a page (hash routes: #/page/arg…). */
export function go(...parts: string[]): void {
  location.hash = "#/" + parts.map(encodeURIComponent).join("/");
}

/** A link to a page. */
export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}
