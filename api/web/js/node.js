// A node's «Информация» page (S001 §10.1), opened from the tree in a new tab.

import { Unauthorized, getJson, problem } from "./api.js";
import { h, replace } from "./dom.js";
import { infoBlock } from "./blocks.js";
import { KIND_TITLES } from "./tree.js";

function parentHref(parentId) {
  return parentId ? `node.html?id=${encodeURIComponent(parentId)}` : null;
}

export async function render(main) {
  const id = new URL(location.href).searchParams.get("id") ?? "";
  const loading = h("p", { class: "loading", role: "status" }, "Загрузка…");
  replace(main, h("h1", {}, "Информация"), loading);
  let node;
  try {
    node = await getJson(`nodes/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!(error instanceof Unauthorized)) {
      const message = h("p", { class: "error", role: "alert" }, problem(error));
      replace(main, h("h1", {}, "Информация"), message);
    }
    return;
  }
  if (node.kind === "meter") {
    location.replace(`meter.html?id=${encodeURIComponent(id.slice("meter:".length))}`);
    return;
  }
  document.title = `Информация: ${node.name} — ИСУ`;
  const parent = parentHref(node.parent_id);
  replace(
    main,
    h("h1", {}, "Информация"),
    h(
      "p",
      { class: "subtitle" },
      h("span", { class: "kind" }, KIND_TITLES[node.kind]),
      ` ${node.number} ${node.name}`,
    ),
    parent ? h("p", { class: "crumbs" }, h("a", { href: parent }, "Вышестоящий объект")) : null,
    node.blocks.map(infoBlock),
  );
}
