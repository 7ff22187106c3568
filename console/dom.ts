/** Building the page: elements from tag, attributes and children, never from HTML strings. */

export type Child = Node | string | number | null | undefined | false | Child[];
type Value = string | number | boolean | null | undefined | ((ev: Event) => void);
export type Attrs = Record<string, Value>;

function set(el: Element, attrs: Attrs | null | undefined): void {
  for (const [k, val] of Object.entries(attrs ?? {})) {
    if (typeof val === "function") el.addEventListener(k.slice(2), val as EventListener);
    else if (val === true) el.setAttribute(k, "");
    else if (val !== false && val !== null && val !== undefined) el.setAttribute(k, String(val));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else if (c !== null && c !== undefined && c !== false) el.appendChild(document.createTextNode(String(c)));
  }
}

/** An HTML element; attributes named on… are event listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  set(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  set(el, attrs);
  append(el, children);
  return el as SVGElement;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** The value of a form control inside `root`, by name. */
export function field(root: ParentNode, name: string): string {
  const el = root.querySelector(`[name="${name}"]`) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null;
  return el?.value ?? "";
}

/** Whether a checkbox inside `root` is ticked. */
export function ticked(root: ParentNode, name: string): boolean {
  return (root.querySelector(`[name="${name}"]`) as HTMLInputElement | null)?.checked ?? false;
}

/** A labelled input. */
export function input(label: string, name: string, attrs: Attrs = {}): HTMLLabelElement {
  return h("label", { class: "field" }, label, h("input", { type: "text", name, autocomplete: "off", spellcheck: "false", ...attrs }));
}

let ids = 0;

/** A select with its label beside it (a label around a select would take the options' text into its name). */
export function select(label: string, name: string, options: string[], attrs: Attrs = {}): HTMLDivElement {
  return labelled(label, h("select", { name, ...attrs }, options.map((o) => h("option", { value: o }, o))));
}

/** A control with a label naming it by id. */
export function labelled(label: string, control: HTMLElement): HTMLDivElement {
  control.id ||= `f${++ids}`;
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}
