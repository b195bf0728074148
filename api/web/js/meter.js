// The meter's page (S001 §10.2): tabs «Информация», «Показания», «Журнал» (WAI-ARIA tabs;
// the tab is kept in the URL's #fragment). Each tab loads when it is first shown.

import { Unauthorized, getJson, problem } from "./api.js";
import { h, replace } from "./dom.js";
import { infoBlock } from "./blocks.js";
import { renderJournal } from "./journal.js";
import { renderReadings } from "./readings.js";

const TABS = [
  ["info", "Информация"],
  ["readings", "Показания"],
  ["journal", "Журнал"],
];

export function failure(panel, error) {
  if (!(error instanceof Unauthorized)) {
    replace(panel, h("p", { class: "error", role: "alert" }, problem(error)));
  }
}

async function renderInfo(panel, meter) {
  replace(panel, meter.blocks.map(infoBlock));
}

export async function render(main) {
  const meterId = new URL(location.href).searchParams.get("id") ?? "";
  const loading = h("p", { class: "loading", role: "status" }, "Загрузка…");
  replace(main, h("h1", {}, "Информация"), loading);
  let meter;
  try {
    meter = await getJson(`meters/${encodeURIComponent(meterId)}`);
  } catch (error) {
    failure(main, error);
    if (!(error instanceof Unauthorized)) main.prepend(h("h1", {}, "Информация"));
    return;
  }
  const identification = meter.blocks.find((block) => block.type === "identification") ?? {};
  const serial = identification.serial_number && `№ ${identification.serial_number}`;
  const title = [identification.model, serial].filter(Boolean).join(" ");
  document.title = `ИПУ ${title || meter.meter_id} — ИСУ`;

  const tabs = TABS.map(([key, label]) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${key}`,
        "aria-controls": `panel-${key}`,
        "aria-selected": "false",
        tabindex: "-1",
        dataset: { tab: key },
      },
      label,
    ),
  );
  const panels = TABS.map(([key]) =>
    h("section", {
      role: "tabpanel",
      id: `panel-${key}`,
      "aria-labelledby": `tab-${key}`,
      tabindex: "0",
      hidden: true,
    }),
  );
  const loaders = {
    info: (panel) => renderInfo(panel, meter),
    readings: (panel) => renderReadings(panel, meter),
    journal: (panel) => renderJournal(panel, meter),
  };
  const loaded = new Set();

  async function select(key, { focus = false } = {}) {
    for (const [index, [name]] of TABS.entries()) {
      const active = name === key;
      tabs[index].setAttribute("aria-selected", String(active));
      tabs[index].setAttribute("tabindex", active ? "0" : "-1");
      panels[index].hidden = !active;
      if (active && focus) tabs[index].focus();
    }
    history.replaceState(null, "", `#${key}`);
    if (!loaded.has(key)) {
      loaded.add(key);
      const panel = panels[TABS.findIndex(([name]) => name === key)];
      replace(panel, h("p", { class: "loading", role: "status" }, "Загрузка…"));
      try {
        await loaders[key](panel);
      } catch (error) {
        loaded.delete(key);
        failure(panel, error);
      }
    }
  }

  const tablist = h("div", { role: "tablist", "aria-label": "Разделы ИПУ", class: "tabs" }, tabs);
  tablist.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab.dataset.tab);
  });
  tablist.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[
      event.key
    ];
    if (index === -1 || next === undefined) return;
    event.preventDefault();
    select(TABS[(next + tabs.length) % tabs.length][0], { focus: true });
  });

  replace(
    main,
    h("h1", {}, "Информация"),
    h(
      "p",
      { class: "subtitle" },
      h("span", { class: "kind" }, "Прибор учёта (ИПУ)"),
      ` ${title || meter.meter_id}`,
      meter.parent_id
        ? [
            " · ",
            h("a", { href: `node.html?id=${encodeURIComponent(meter.parent_id)}` }, "Точка учёта"),
          ]
        : null,
    ),
    tablist,
    panels,
  );
  const wanted = location.hash.slice(1);
  await select(TABS.some(([key]) => key === wanted) ? wanted : "info");
}
