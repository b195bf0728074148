// Information blocks (S001 §10.1, §10.2 «Информация»): a title, «Данные актуальны на …» and
// the fields as label–value pairs.

import { h } from "./dom.js";
import { dateOnly, dateTime } from "./format.js";
import { FIELD_LABELS, ZONE_SCHEDULES } from "./labels.js";

const SKIP = new Set(["type", "title", "as_of", "attributes"]);
const DATE_FIELD = /_on$/;

function shown(name, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (name === "registered") return value ? "назначен" : "не назначен";
  if (name === "zone_schedule") return ZONE_SCHEDULES[value] ?? value;
  if (name === "capacity") return String(value).replace(".", ",");
  if (DATE_FIELD.test(name)) return dateOnly(value);
  return String(value);
}

/** «Данные актуальны на 26.12.2023 15:05:58» (``dateOnly``: the readings' date form). */
export function asOf(iso, { dateOnly: onlyDate = false } = {}) {
  if (!iso) return h("p", { class: "as-of" }, "Данных пока нет");
  return h(
    "p",
    { class: "as-of" },
    "Данные актуальны на ",
    h("time", { datetime: iso }, onlyDate ? dateOnly(iso) : dateTime(iso)),
  );
}

export function infoBlock(block) {
  const known = FIELD_LABELS[block.type] ?? [];
  const names = known.map(([name]) => name);
  const rest = Object.keys(block).filter((name) => !SKIP.has(name) && !names.includes(name));
  const rows = [
    ...known
      .filter(([name]) => name in block)
      .map(([name, label]) => [label, shown(name, block[name])]),
    ...rest.map((name) => [name, shown(name, block[name])]),
    ...Object.entries(block.attributes ?? {}),
  ];
  const titleId = `block-${block.type}`;
  return h(
    "section",
    { class: "card block", "aria-labelledby": titleId, dataset: { block: block.type } },
    h("h2", { id: titleId }, block.title),
    asOf(block.as_of),
    h(
      "dl",
      { class: "fields" },
      rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))),
    ),
  );
}
