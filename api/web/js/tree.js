// One card per energy object: the tree «Энергообъект\Точка подключения\Точка учёта\Прибор учёта»
// with ▼/► on every level (WAI-ARIA tree: role tree/treeitem/group, aria-expanded, arrow keys).
// A click anywhere on a row, or its «>» link, opens the node's information in a new tab.

import { h } from "./dom.js";

export const KIND_TITLES = {
  energy_object: "Энергообъект",
  connection_point: "Точка подключения",
  metering_point: "Точка учёта",
  meter: "Прибор учёта (ИПУ)",
};

/** The information page of a tree node (meters have their own page with tabs). */
export function nodeHref(node) {
  if (node.kind === "meter") return `meter.html?id=${encodeURIComponent(node.meter_id)}`;
  return `node.html?id=${encodeURIComponent(node.id)}`;
}

/** ``text`` with every case-insensitive occurrence of ``query`` in <mark>. */
function highlighted(text, query) {
  if (!query) return [text];
  const pieces = [];
  const lower = text.toLocaleLowerCase("ru");
  const needle = query.toLocaleLowerCase("ru");
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    pieces.push(text.slice(at, found), h("mark", {}, text.slice(found, found + needle.length)));
    at = found + needle.length;
  }
  pieces.push(text.slice(at));
  return pieces;
}

function item(node, level, position, size, query) {
  const branch = node.children.length > 0;
  const label = `${KIND_TITLES[node.kind]} ${node.number} ${node.name}`;
  const link = h(
    "a",
    {
      class: "go",
      href: nodeHref(node),
      target: "_blank",
      rel: "opener", // the new tab inherits this tab's sessionStorage, so the key
      tabindex: "-1",
      title: "Открыть информацию в новой вкладке",
    },
    ">",
  );
  const row = h(
    "div",
    { class: "row" },
    h("span", { class: branch ? "toggle" : "toggle leaf", "aria-hidden": "true" }),
    h("span", { class: "number" }, node.number),
    " ",
    h("span", { class: "name" }, highlighted(node.name, query)),
    node.kind === "meter" ? h("span", { class: "tag", title: KIND_TITLES.meter }, "ИПУ") : null,
    link,
  );
  const li = h(
    "li",
    {
      role: "treeitem",
      "aria-level": level,
      "aria-setsize": size,
      "aria-posinset": position,
      "aria-expanded": branch ? "true" : null,
      "aria-label": label,
      tabindex: "-1",
      dataset: { id: node.id, kind: node.kind },
    },
    row,
  );
  if (branch) {
    li.append(
      h(
        "ul",
        { role: "group" },
        node.children.map((child, index) =>
          item(child, level + 1, index + 1, node.children.length, query),
        ),
      ),
    );
  }
  return li;
}

export function setExpanded(li, expanded) {
  if (!li.hasAttribute("aria-expanded")) return;
  li.setAttribute("aria-expanded", String(expanded));
}

function visibleItems(tree) {
  return [...tree.querySelectorAll('[role="treeitem"]')].filter(
    (li) => !li.parentElement.closest('[role="treeitem"][aria-expanded="false"]'),
  );
}

function focusItem(tree, li) {
  for (const other of tree.querySelectorAll('[role="treeitem"][tabindex="0"]')) {
    other.setAttribute("tabindex", "-1");
  }
  li.setAttribute("tabindex", "0");
  li.focus();
}

function onKey(event) {
  const tree = event.currentTarget;
  const li = event.target.closest('[role="treeitem"]');
  if (!li) return;
  const items = visibleItems(tree);
  const index = items.indexOf(li);
  const expanded = li.getAttribute("aria-expanded");
  const parent = li.parentElement.closest('[role="treeitem"]');
  const moves = {
    ArrowDown: () => items[index + 1],
    ArrowUp: () => items[index - 1],
    Home: () => items[0],
    End: () => items[items.length - 1],
    ArrowRight: () => {
      if (expanded === "false") setExpanded(li, true);
      else if (expanded === "true") return items[index + 1];
      return null;
    },
    ArrowLeft: () => {
      if (expanded === "true") setExpanded(li, false);
      else return parent;
      return null;
    },
    Enter: () => {
      li.querySelector(":scope > .row > .go").click();
      return null;
    },
  };
  const move = moves[event.key];
  if (!move) return;
  event.preventDefault();
  const target = move();
  if (target) focusItem(tree, target);
}

function onClick(event) {
  const tree = event.currentTarget;
  const li = event.target.closest('[role="treeitem"]');
  if (!li) return;
  if (event.target.closest(".toggle")) {
    setExpanded(li, li.getAttribute("aria-expanded") === "false");
    focusItem(tree, li);
    return;
  }
  if (event.target.closest(".go")) return; // the link opens the new tab itself
  if (event.target.closest(".row")) {
    focusItem(tree, li);
    li.querySelector(":scope > .row > .go").click();
  }
}

/** The card of one energy object's tree; names matching ``query`` are highlighted. */
export function treeCard(root, query) {
  const tree = h(
    "ul",
    { role: "tree", "aria-label": `Дерево объектов ЭСХ: ${root.number} ${root.name}` },
    item(root, 1, 1, 1, query),
  );
  tree.firstElementChild.setAttribute("tabindex", "0");
  tree.addEventListener("keydown", onKey);
  tree.addEventListener("click", onClick);
  return h("section", { class: "card tree-card", dataset: { energyObject: root.number } }, tree);
}
