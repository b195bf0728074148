// The «Показания» tab (S001 §10.2, Fig. 170–173): one table per block with rows R-, R+, A-, A+
// (their full names on «?»), the zone columns and «СУММ», «↓» for the archive form; then the
// charts (load profile, monthly consumption).

import { getJson } from "./api.js";
import { openArchive } from "./archive.js";
import { asOf } from "./blocks.js";
import { renderCharts } from "./charts.js";
import { h, replace, uid } from "./dom.js";
import { value } from "./format.js";
import { QUALITY_NOTES, ROW_ORDER } from "./labels.js";

const ZONE_ORDER = ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"];
// The readings' «Данные актуальны на» is a date for the snapshots (the seed), a time for the
// running blocks, whose time matters.
const DATE_ONLY = new Set(["day_end", "period_end"]);

function rowTitle(row) {
  return `${row.kind}, [${row.unit}]`;
}

function readingsTable(block, zones, opener) {
  const caption = h("caption", { class: "sr-only" }, block.title);
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Вид энергии"),
    zones.map((zone) => h("th", { scope: "col", class: "num" }, zone)),
    h("th", { scope: "col", class: "num" }, "СУММ"),
    h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Расшифровка и архив")),
  );
  const byKind = Object.fromEntries(block.rows.map((row) => [row.kind, row]));
  const body = ROW_ORDER.filter((kind) => byKind[kind]).map((kind) => {
    const row = byKind[kind];
    const tip = uid("tip");
    const full = `${row.name}, [${row.unit}]`;
    return h(
      "tr",
      { dataset: { kind } },
      h("th", { scope: "row" }, h("abbr", { title: full }, rowTitle(row))),
      zones.map((zone) => h("td", { class: "num" }, value(row.values[zone]))),
      h("td", { class: "num sum" }, value(row.values.sum)),
      h(
        "td",
        { class: "actions" },
        h(
          "span",
          { class: "hint-wrap" },
          h(
            "button",
            {
              type: "button",
              class: "icon hint",
              "aria-label": `Расшифровка: ${row.kind}`,
              "aria-describedby": tip,
            },
            "?",
          ),
          h("span", { role: "tooltip", id: tip, class: "tooltip" }, full),
        ),
        h(
          "button",
          {
            type: "button",
            class: "icon download",
            "aria-label": `Скачать архив данных: ${block.title}, ${row.kind}`,
            title: "Скачать архив данных за период",
            onclick: (event) => opener(block.type, event.currentTarget),
          },
          "↓",
        ),
      ),
    );
  });
  return h(
    "div",
    {
      class: "table-scroll",
      role: "region",
      "aria-label": `Таблица: ${block.title}`,
      tabindex: "0",
    },
    h("table", { class: "readings" }, caption, h("thead", {}, head), h("tbody", {}, body)),
  );
}

export async function renderReadings(panel, meter) {
  const readings = await getJson(`meters/${encodeURIComponent(meter.meter_id)}/readings`);
  // A block without data still shows the columns of the others (the seed's empty table).
  const used = new Set(readings.blocks.flatMap((block) => block.zones));
  const fallbackZones = ZONE_ORDER.filter((zone) => used.has(zone));
  const opener = (type, from) => openArchive(meter, type, from);
  const ratioNote =
    readings.ratio !== "1"
      ? h(
          "p",
          { class: "note" },
          `Значения указаны с учётом расчётного коэффициента ${readings.ratio} (ТТ × ТН).`,
        )
      : null;
  const blocks = readings.blocks.map((block) => {
    const zones = block.zones.length ? block.zones : fallbackZones;
    const titleId = `readings-${block.type}`;
    return h(
      "section",
      { class: "card block", "aria-labelledby": titleId, dataset: { block: block.type } },
      h(
        "div",
        { class: "block-head" },
        h("h2", { id: titleId }, block.title),
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: (event) => opener(block.type, event.currentTarget),
          },
          "Архив данных",
        ),
      ),
      asOf(block.as_of, { dateOnly: DATE_ONLY.has(block.type) }),
      QUALITY_NOTES[block.quality] ? h("p", { class: "note" }, QUALITY_NOTES[block.quality]) : null,
      readingsTable(block, zones, opener),
    );
  });
  const charts = h("div", { class: "charts" });
  replace(panel, ratioNote, blocks, charts);
  await renderCharts(charts, meter);
}
