// «Потребление по месяцам»: the year's A+ by month from …/consumption, months with incomplete
// data (the current one included) hatched, and the four kinds by month as a table.

import { Unauthorized, getJson, problem } from "./api.js";
import { field, h, replace, select } from "./dom.js";
import { MONTHS, MONTHS_SHORT } from "./format.js";
import { COLORS, axis, bars, hatch, numberOrNull, plot, sum } from "./plot.js";

const KINDS = ["A+", "A-", "R+", "R-"];

function completeness(month) {
  if (month.quality === null) return "нет";
  if (month.quality === "ok") return "полные";
  return `неполные (${Math.floor((100 * month.covered_s) / month.span_s)} %)`;
}

function table(answer) {
  const head = [
    h("th", { scope: "col" }, "Месяц"),
    KINDS.map((kind) => h("th", { scope: "col", class: "num" }, `${kind}, ${answer.units[kind]}`)),
    h("th", { scope: "col" }, "Данные"),
  ];
  const rows = answer.months.map((month) =>
    h(
      "tr",
      { dataset: { month: month.month } },
      h("th", { scope: "row" }, MONTHS[Number(month.month.slice(5)) - 1]),
      KINDS.map((kind) => h("td", { class: "num" }, month.values[kind] ?? "")),
      h("td", {}, completeness(month)),
    ),
  );
  return h(
    "div",
    {
      class: "table-scroll",
      tabindex: "0",
      role: "region",
      "aria-label": "Потребление по месяцам",
    },
    h("table", { class: "consumption" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)),
  );
}

function draw(holder, answer) {
  const xs = answer.months.map((_, index) => index + 1);
  const values = answer.months.map((month) => numberOrNull(month.values["A+"]));
  const ok = (index) => answer.months[index].quality === "ok";
  const whole = values.map((v, i) => (ok(i) ? v : null));
  const partial = values.map((v, i) => (ok(i) ? null : v));
  const monthBars = bars({ size: [0.7, 80] });
  const energy = (u, v) => (v === null || v === undefined ? "—" : v.toFixed(3));
  const kind = (label, stroke, fill) => ({
    label,
    stroke,
    fill,
    width: 0,
    paths: monthBars,
    points: { show: false },
    value: energy,
  });
  plot(
    holder,
    {
      height: 260,
      scales: {
        x: { time: false, range: () => [0.5, 12.5] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] }, // bars stand on zero
      },
      axes: [
        axis({
          splits: () => xs,
          // Every month on a laptop; every other one when a label has under 32 px (a phone).
          values: (u, splits) => {
            const every = u.bbox.width / devicePixelRatio / 12 < 32 ? 2 : 1;
            return splits.map((v) => ((v - 1) % every === 0 ? MONTHS_SHORT[v - 1] : ""));
          },
        }),
        axis({ label: `A+, ${answer.units["A+"]}`, size: 70 }),
      ],
      cursor: { points: { show: false } },
      series: [
        { label: "Месяц", value: (u, v) => (v ? MONTHS[v - 1] : "—") },
        kind("A+, полный месяц", COLORS.import, COLORS.import),
        kind("A+, неполный месяц", COLORS.partial, (u) => hatch(u.ctx)),
      ],
    },
    [xs, whole, partial],
  );
  const count = (list) => list.filter((v) => v !== null).length;
  return { points: count(values), incomplete: count(partial) };
}

export async function renderConsumption(section, meter) {
  const path = `meters/${encodeURIComponent(meter.meter_id)}/consumption`;
  const first = await getJson(path);
  const years = [0, 1, 2].map((back) => String(first.year - back));
  const year = select("consumption-year", years.map((y) => [y, y]), String(first.year));
  const holder = h("div", { class: "plot" });
  const caption = h("figcaption", { id: "consumption-caption" });
  const figure = h(
    "figure",
    {
      id: "consumption-chart",
      class: "chart",
      "aria-labelledby": "consumption-title consumption-caption",
    },
    holder,
    caption,
  );
  const tableHolder = h("div");
  const form = h("form", { class: "chart-controls" }, field("Год", year));
  replace(
    section,
    h("h2", { id: "consumption-title" }, "Потребление по месяцам"),
    form,
    figure,
    tableHolder,
  );

  function show(answer) {
    const drawn = draw(holder, answer);
    figure.dataset.points = String(drawn.points);
    figure.dataset.incomplete = String(drawn.incomplete);
    const counted = answer.months.filter((m) => m.values["A+"] !== null);
    const total = sum(counted.map((m) => Number(m.values["A+"]))).toFixed(3);
    caption.textContent = counted.length
      ? `Потребление (A+) за ${answer.year} год: ${total} ${answer.units["A+"]} ` +
        `за ${counted.length} мес.; заштрихованы месяцы с неполными данными ` +
        `(их ${drawn.incomplete}, в том числе текущий).`
      : `За ${answer.year} год данных нет.`;
    replace(tableHolder, table(answer));
  }

  year.addEventListener("change", async () => {
    try {
      show(await getJson(path, { year: year.value }));
    } catch (error) {
      if (!(error instanceof Unauthorized)) caption.textContent = problem(error);
    }
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  show(first);
}
