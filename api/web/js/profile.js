// «Профиль нагрузки»: the intervals of a day or a week (Monday to Sunday) from …/intervals,
// A+ as bars up and A- as bars down, incomplete intervals shaded behind them.

import { Unauthorized, getJson, problem } from "./api.js";
import { field, h, replace } from "./dom.js";
import { WEEKDAYS_SHORT, addDays, dateOnly, dateTime, localDate, monday } from "./format.js";
import { COLORS, axis, bars, numberOrNull, plot, sum, uPlot } from "./plot.js";

function pad(number) {
  return String(number).padStart(2, "0");
}

function table(series) {
  const rows = series.intervals.map((entry) =>
    h(
      "tr",
      {},
      h("td", {}, dateTime(entry.start)),
      h("td", { class: "num" }, entry.values["A+"] ?? ""),
      h("td", { class: "num" }, entry.values["A-"] ?? ""),
      h("td", {}, entry.quality === "ok" ? "полные" : "неполные"),
    ),
  );
  const head = ["Начало интервала", "A+, кВт*ч", "A-, кВт*ч", "Данные"];
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Значения графика таблицей"),
    h(
      "div",
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Профиль нагрузки" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col" }, text)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

function draw(holder, series, week) {
  const zone = series.time_zone;
  const xs = series.intervals.map((entry) => Date.parse(entry.start) / 1000);
  const imported = series.intervals.map((entry) => numberOrNull(entry.values["A+"]));
  const exported = series.intervals.map((entry) => {
    const found = numberOrNull(entry.values["A-"]);
    return found === null ? null : -found;
  });
  const incomplete = series.intervals.flatMap((entry, index) =>
    entry.quality === "ok" ? [] : [[xs[index], xs[index] + entry.period_s]],
  );
  // A week is labelled at its local midnights, taken from the API's own times (so a day with
  // a clock change keeps its length); a day by uPlot's hourly steps.
  const midnights = series.intervals
    .filter((entry) => entry.start.slice(11, 19) === "00:00:00")
    .map((entry) => Date.parse(entry.start) / 1000);
  const start = Date.parse(series.start) / 1000;
  const end = Date.parse(series.end) / 1000;
  const local = (ts) => uPlot().tzDate(new Date(ts * 1000), zone);
  const tick = (ts) => {
    const d = local(ts);
    return week
      ? `${WEEKDAYS_SHORT[d.getDay()]} ${pad(d.getDate())}.${pad(d.getMonth() + 1)}`
      : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };
  const full = (ts) => {
    const d = local(ts);
    return `${pad(d.getDate())}.${pad(d.getMonth() + 1)}.${d.getFullYear()} ${tick(ts)}`;
  };
  const energy = (u, v) => (v === null || v === undefined ? "—" : Math.abs(v).toFixed(3));
  const intervalBars = bars({ align: 1, size: [0.92, Infinity, 1] });
  const kind = (label, color) => ({
    label,
    stroke: color,
    fill: color,
    width: 0,
    paths: intervalBars,
    points: { show: false },
    value: energy,
  });
  const shade = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.fillStyle = COLORS.incomplete;
    for (const [from, to] of incomplete) {
      const left = u.valToPos(from, "x", true);
      const right = u.valToPos(to, "x", true);
      ctx.fillRect(left, bbox.top, Math.max(right - left, 2), bbox.height);
    }
    ctx.restore();
  };
  const chart = plot(
    holder,
    {
      height: 300,
      tzDate: local,
      scales: { x: { time: true, range: () => [start, end] } },
      axes: [
        axis({
          space: week ? 70 : 50,
          ...(week ? { splits: () => midnights } : {}),
          values: (u, splits) => splits.map(tick),
        }),
        axis({
          label: "кВт*ч",
          size: 60,
          values: (u, splits) => splits.map((v) => Math.abs(v).toFixed(2)),
        }),
      ],
      cursor: { points: { show: false } },
      series: [
        { label: "Начало интервала", value: (u, ts) => (ts ? full(ts) : "—") },
        kind("A+, кВт*ч", COLORS.import),
        kind("A-, кВт*ч", COLORS.export),
      ],
      hooks: { drawClear: [shade] }, // under the bars
    },
    [xs, imported, exported],
  );
  return { points: chart.data[0].length, incomplete: incomplete.length };
}

export async function renderProfile(section, meter) {
  const today = localDate(meter.time_zone);
  const modes = h(
    "fieldset",
    { class: "inline" },
    h("legend", {}, "Период графика"),
    [
      ["day", "Сутки"],
      ["week", "Неделя"],
    ].map(([mode, label]) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "radio", name: "profile-mode", value: mode, checked: mode === "day" }),
        ` ${label}`,
      ),
    ),
  );
  const yesterday = addDays(today, -1); // the last whole day
  const day = h("input", { id: "profile-day", type: "date", value: yesterday, max: today });
  const step = (label, text) =>
    h("button", { type: "button", class: "secondary", "aria-label": label }, text);
  const earlier = step("Предыдущий период", "‹");
  const later = step("Следующий период", "›");
  const holder = h("div", { class: "plot" });
  const caption = h("figcaption", { id: "profile-caption" });
  const figure = h(
    "figure",
    { id: "profile-chart", class: "chart", "aria-labelledby": "profile-title profile-caption" },
    holder,
    h(
      "p",
      { class: "legend-extra" },
      h("span", { class: "swatch incomplete", "aria-hidden": "true" }),
      " неполный интервал (данные прибора неполные); A+ отложена вверх от нуля, A- — вниз",
    ),
    caption,
  );
  const tableHolder = h("div");
  const form = h(
    "form",
    { class: "chart-controls", "aria-label": "Период профиля нагрузки" },
    modes,
    field("Дата", day),
    h("div", { class: "steps" }, earlier, later),
  );
  replace(section, h("h2", { id: "profile-title" }, "Профиль нагрузки"), form, figure, tableHolder);

  function range() {
    const week = form.querySelector('input[name="profile-mode"]:checked').value === "week";
    const first = week ? monday(day.value || today) : day.value || today;
    return { week, first, last: week ? addDays(first, 6) : first };
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const { week, first, last } = range();
    figure.setAttribute("aria-busy", "true");
    try {
      const series = await getJson(`meters/${encodeURIComponent(meter.meter_id)}/intervals`, {
        from: first,
        to: last,
      });
      if (mine !== generation) return;
      const drawn = draw(holder, series, week);
      // What was drawn, for people (the caption) and for tests (the attributes).
      figure.dataset.points = String(drawn.points);
      figure.dataset.incomplete = String(drawn.incomplete);
      const total = (kind) =>
        sum(series.intervals.map((e) => numberOrNull(e.values[kind]))).toFixed(3);
      const period = week ? `неделю ${dateOnly(first)} – ${dateOnly(last)}` : dateOnly(first);
      caption.textContent =
        drawn.points === 0
          ? `Профиль нагрузки за ${period}: интервалов нет.`
          : `Профиль нагрузки за ${period}: интервалов ${drawn.points}, ` +
            `A+ ${total("A+")} кВт*ч, A- ${total("A-")} кВт*ч, ` +
            `неполных интервалов ${drawn.incomplete}.`;
      replace(tableHolder, table(series));
    } catch (error) {
      if (!(error instanceof Unauthorized)) caption.textContent = problem(error);
    } finally {
      if (mine === generation) figure.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("change", load);
  form.addEventListener("submit", (event) => event.preventDefault());
  for (const [button, direction] of [
    [earlier, -1],
    [later, 1],
  ]) {
    button.addEventListener("click", () => {
      day.value = addDays(day.value || today, direction * (range().week ? 7 : 1));
      load();
    });
  }
  await load();
}
