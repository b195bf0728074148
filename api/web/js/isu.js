// The ISU page (S001 §10): «Договор», «Энергообъект», «Поиск» and one tree card per energy
// object; «У вас пока нет договора с ИПУ» when the key sees no contract with meters.

import { Unauthorized, getJson, problem } from "./api.js";
import { debounce, field, h, replace } from "./dom.js";
import { setExpanded, treeCard } from "./tree.js";

const LAST_CONTRACT = "isu.contract";

function heading() {
  return [
    h("h1", {}, "ИСУ"),
    h(
      "p",
      { class: "lead" },
      "На этой странице можно посмотреть справочную информацию об интеллектуальных приборах " +
        "учета и сопутствующих им объектах ЭСХ",
    ),
  ];
}

function emptyState() {
  return h(
    "section",
    { class: "card empty", "aria-labelledby": "empty-title" },
    h("h2", { id: "empty-title" }, "У вас пока нет договора с ИПУ"),
    h(
      "p",
      {},
      "Договоры с интеллектуальными приборами учета появятся здесь, когда администратор системы " +
        "учёта добавит договор в реестр и откроет к нему доступ по вашему ключу.",
    ),
  );
}

function treePath(number) {
  return `contracts/${number}/tree`;
}

export async function render(main) {
  replace(main, ...heading(), h("p", { class: "loading", role: "status" }, "Загрузка…"));
  let contracts;
  try {
    contracts = await getJson("contracts");
  } catch (error) {
    if (!(error instanceof Unauthorized)) {
      replace(main, ...heading(), h("p", { class: "error", role: "alert" }, problem(error)));
    }
    return;
  }
  if (contracts.length === 0) {
    replace(main, ...heading(), emptyState());
    return;
  }
  const url = new URL(location.href);
  const numbers = contracts.map((c) => c.number);
  const wanted = url.searchParams.get("contract") ?? sessionStorage.getItem(LAST_CONTRACT);
  const state = {
    contract: numbers.includes(wanted) ? wanted : numbers[0],
    energyObject: url.searchParams.get("energy_object") ?? "",
    q: url.searchParams.get("q") ?? "",
  };

  const contractSelect = h(
    "select",
    { id: "contract" },
    contracts.map((c) =>
      h(
        "option",
        { value: c.number, selected: c.number === state.contract },
        `${c.name} (${c.number})`,
      ),
    ),
  );
  const objectSelect = h("select", { id: "energy-object" }, h("option", { value: "" }, "Все"));
  const clear = h(
    "button",
    { type: "button", class: "clear", "aria-label": "Сбросить фильтр «Энергообъект»" },
    "×",
  );
  const search = h("input", {
    id: "search",
    type: "search",
    autocomplete: "off",
    placeholder: "Часть наименования объекта",
    value: state.q,
  });
  const status = h("p", { id: "tree-status", class: "status", role: "status" });
  const trees = h("div", { id: "trees", class: "trees" });
  const expandAll = h("button", { type: "button", class: "link" }, "Развернуть все уровни");
  const collapseAll = h("button", { type: "button", class: "link" }, "Свернуть все уровни");

  replace(
    main,
    ...heading(),
    h(
      "form",
      { class: "filters", role: "search", "aria-label": "Фильтры дерева объектов ЭСХ" },
      field("Договор", contractSelect),
      h(
        "div",
        { class: "field" },
        h("label", { for: "energy-object" }, "Энергообъект"),
        h("div", { class: "with-clear" }, objectSelect, clear),
      ),
      field("Поиск", search),
    ),
    h("div", { class: "tree-tools" }, status, h("div", {}, expandAll, " ", collapseAll)),
    trees,
  );

  let generation = 0;

  function remember() {
    const next = new URL(location.href);
    next.search = "";
    next.searchParams.set("contract", state.contract);
    if (state.energyObject) next.searchParams.set("energy_object", state.energyObject);
    if (state.q) next.searchParams.set("q", state.q);
    history.replaceState(null, "", next);
    sessionStorage.setItem(LAST_CONTRACT, state.contract);
  }

  async function loadObjects() {
    // The «Энергообъект» list is the contract's energy objects, whatever the other filters.
    const all = await getJson(treePath(state.contract));
    replace(
      objectSelect,
      h("option", { value: "" }, "Все"),
      all.trees.map((root) =>
        h(
          "option",
          { value: root.number, selected: root.number === state.energyObject },
          `${root.name} (${root.number})`,
        ),
      ),
    );
    if (!all.trees.some((root) => root.number === state.energyObject)) state.energyObject = "";
    clear.hidden = !state.energyObject;
    return all;
  }

  async function show(unfiltered) {
    const mine = ++generation;
    remember();
    trees.setAttribute("aria-busy", "true");
    const q = state.q.trim();
    let answer = unfiltered;
    if (!answer || state.energyObject || q) {
      answer = await getJson(treePath(state.contract), {
        energy_object: state.energyObject,
        q,
      });
    }
    if (mine !== generation) return;
    trees.removeAttribute("aria-busy");
    replace(trees, answer.trees.map((root) => treeCard(root, q)));
    if (answer.trees.length === 0) {
      status.textContent = q ? `Ничего не найдено по запросу «${q}»` : "Нет энергообъектов";
    } else {
      status.textContent = `Энергообъектов: ${answer.trees.length}`;
    }
  }

  async function guarded(action) {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof Unauthorized)) {
        status.textContent = problem(error);
        trees.removeAttribute("aria-busy");
      }
    }
  }

  contractSelect.addEventListener("change", () =>
    guarded(async () => {
      state.contract = contractSelect.value;
      state.energyObject = "";
      await show(await loadObjects());
    }),
  );
  objectSelect.addEventListener("change", () =>
    guarded(async () => {
      state.energyObject = objectSelect.value;
      clear.hidden = !state.energyObject;
      await show();
    }),
  );
  clear.addEventListener("click", () =>
    guarded(async () => {
      objectSelect.value = "";
      state.energyObject = "";
      clear.hidden = true;
      objectSelect.focus();
      await show();
    }),
  );
  const searchLater = debounce(() => guarded(() => show()), 250);
  search.addEventListener("input", () => {
    state.q = search.value;
    searchLater();
  });
  main.querySelector("form.filters").addEventListener("submit", (event) => event.preventDefault());
  for (const [button, expanded] of [
    [expandAll, true],
    [collapseAll, false],
  ]) {
    button.addEventListener("click", () => {
      for (const li of trees.querySelectorAll('[role="treeitem"]')) setExpanded(li, expanded);
    });
  }
  await guarded(async () => {
    const all = await loadObjects();
    await show(state.energyObject || state.q.trim() ? undefined : all);
  });
}
