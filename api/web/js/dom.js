// Building DOM nodes without innerHTML: text is always text, so API data can never become markup.

/**
 * h("a", {href: "x", class: "go", onclick: fn, dataset: {id: 1}}, "text", child, [more])
 * Attributes that are null, undefined or false are left out; true gives an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "class") {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace everything inside ``parent`` with ``children``. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let counter = 0;
/** A document-unique id for label/aria links. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled form field: <div class="field"><label for>…</label>control</div>. */
export function field(label, control, ...extra) {
  if (!control.id) control.id = uid("field");
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, ...extra);
}

/** A <select> of [value, text] pairs. */
export function select(id, options, selected) {
  return h(
    "select",
    { id },
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)),
  );
}

/** Call ``fn`` once ``wait_ms`` after the last call. */
export function debounce(fn, wait_ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait_ms);
  };
}
