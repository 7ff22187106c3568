/**
 * The kms console's page: sign in, then a shell (header, navigation, main)
 * whose main area shows the page the URL's hash names. Everything it shows
 * comes from the node's console API as the signed-in identity.
 */
import { api, listAll, type SessionInfo, useSession, whenSignedOut } from "./api.ts";
import { fill, h } from "./dom.ts";
import { loginPage } from "./login.ts";
import { auditPage } from "./pages/audit.ts";
import { clusterPage } from "./pages/cluster.ts";
import { enclavesPage } from "./pages/enclaves.ts";
import { identitiesPage } from "./pages/identities.ts";
import { keyPage } from "./pages/key.ts";
import { keysPage } from "./pages/keys.ts";
import { metricsPage } from "./pages/metrics.ts";
import { playgroundPage } from "./pages/playground.ts";
import { policiesPage } from "./pages/policies.ts";
import { ctx, go, href } from "./state.ts";

/** A page: fills `main` from its route arguments; may return a cleanup (timers, streams). */
export type Page = (main: HTMLElement, args: string[]) => void | (() => void);

interface Route {
  readonly page: Page;
  readonly title: string;
  /** Whether the page works in the selected enclave (its route carries it). */
  readonly inEnclave: boolean;
  /** Shown in the navigation. */
  readonly nav: boolean;
}

const ROUTES: Record<string, Route> = {
  cluster: { page: clusterPage, title: "Cluster", inEnclave: false, nav: true },
  enclaves: { page: enclavesPage, title: "Enclaves", inEnclave: false, nav: true },
  keys: { page: keysPage, title: "Keys", inEnclave: true, nav: true },
  key: { page: keyPage, title: "Key", inEnclave: true, nav: false },
  playground: { page: playgroundPage, title: "Playground", inEnclave: true, nav: true },
  identities: { page: identitiesPage, title: "Identities", inEnclave: true, nav: true },
  policies: { page: policiesPage, title: "Policies", inEnclave: true, nav: true },
  metrics: { page: metricsPage, title: "Metrics", inEnclave: false, nav: true },
  audit: { page: auditPage, title: "Audit", inEnclave: false, nav: true },
};

const root = document.getElementById("app")!;
let cleanup: void | (() => void);

/** The route in the hash: page name and arguments. */
function parseHash(): { name: string; args: string[] } {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] ?? "", args: parts.slice(1) };
}

/** The page a freshly signed-in identity starts on. */
function home(s: SessionInfo): string {
  return s.sysadmin ? href("cluster") : href("keys", s.enclaves[0]?.name ?? "");
}

/** The enclaves the selector offers: all of them for a SysAdmin, else the identity's own. */
async function enclaveChoices(s: SessionInfo): Promise<string[]> {
  const own = s.enclaves.map((e) => e.name);
  if (!s.sysadmin) return own;
  try {
    return (await listAll<{ name: string }>("ENCLAVE:LIST", "", "enclaves")).map((e) => e.name);
  } catch {
    return own;
  }
}

function shell(s: SessionInfo): { main: HTMLElement; nav: HTMLElement; picker: HTMLSelectElement } {
  const picker = h("select", { name: "enclave", id: "enclave-picker" });
  picker.addEventListener("change", () => {
    ctx.enclave = picker.value;
    const { name } = parseHash();
    if (ROUTES[name]?.inEnclave) go(name === "key" ? "keys" : name, ctx.enclave);
  });
  const signOut = h("button", { type: "button" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await api("POST", "/logout").catch(() => {});
    // Whoever signs in next starts on their own home page.
    history.replaceState(null, "", location.pathname);
    void signedOut("Signed out.");
  });
  const nav = h("nav", { class: "side", "aria-label": "Console pages" });
  const main = h("main", { id: "main", tabindex: "-1" });
  fill(root,
    h("header", { class: "top" },
      h("span", { class: "brand" }, "kms console"),
      h("label", { for: "enclave-picker" }, "Enclave", picker),
      h("span", { class: "who", title: s.identity }, s.sysadmin ? "SysAdmin " : "", h("code", null, s.identity)),
      signOut),
    h("div", { class: "shell" }, nav, main));
  return { main, nav, picker };
}

function renderNav(nav: HTMLElement, current: string): void {
  fill(nav, h("ul", null, Object.entries(ROUTES).filter(([, r]) => r.nav).map(([name, r]) => {
    const link = r.inEnclave ? href(name, ctx.enclave) : href(name);
    const here = current === name || (name === "keys" && current === "key");
    return h("li", null, h("a", { href: link, "aria-current": here ? "page" : false }, r.title));
  })));
}

async function signedIn(s: SessionInfo): Promise<void> {
  ctx.session = s;
  useSession(s);
  const { main, nav, picker } = shell(s);
  const choices = await enclaveChoices(s);
  const render = () => {
    const { name, args } = parseHash();
    const route = ROUTES[name];
    if (!route) {
      location.replace(home(s));
      return;
    }
    if (route.inEnclave && args[0]) ctx.enclave = args[0];
    if (!ctx.enclave) ctx.enclave = choices[0] ?? "";
    if (route.inEnclave && !args[0] && ctx.enclave) {
      location.replace(href(name, ctx.enclave));
      return;
    }
    if (![...picker.options].some((o) => o.value === ctx.enclave)) {
      fill(picker, [...new Set([...choices, ctx.enclave].filter(Boolean))].map((e) => h("option", { value: e }, e)));
    }
    picker.value = ctx.enclave;
    renderNav(nav, name);
    cleanup?.();
    main.replaceChildren();
    document.title = `${route.title} · kms console`;
    cleanup = route.page(main, args);
    main.focus();
  };
  fill(picker, choices.map((e) => h("option", { value: e }, e)));
  onhashchange = () => {
    // Only page routes (#/…): in-page anchors such as the skip link are not navigation.
    if (location.hash.startsWith("#/")) render();
  };
  if (!location.hash.startsWith("#/")) location.replace(home(s));
  render();
}

async function signedOut(notice?: string): Promise<void> {
  cleanup?.();
  cleanup = undefined;
  onhashchange = null;
  ctx.session = undefined;
  useSession(undefined);
  const s = await loginPage(root, notice);
  await signedIn(s);
}

whenSignedOut((message) => {
  if (ctx.session) void signedOut(message);
});

async function start(): Promise<void> {
  try {
    await signedIn(await api<SessionInfo>("GET", "/session"));
  } catch {
    await signedOut();
  }
}

void start();
