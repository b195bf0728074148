// The «Журнал» tab (S001 §10.2, Fig. 174): «Период» (one month, the current one at first),
// «Вид события» and «Тип события», combined with AND by the API; one row per event.

import { Unauthorized, getJson, problem } from "./api.js";
import { field, h, replace, select } from "./dom.js";
import { journalTime, monthTitle, monthsBack } from "./format.js";

const PAGE = 200;
const MONTHS_LISTED = 36;

function eventRow(event) {
  return h(
    "tr",
    {
      class: event.critical ? "critical" : null,
      dataset: { kind: event.kind, critical: String(event.critical) },
    },
    h("td", { class: "time" }, h("time", { datetime: event.ts }, journalTime(event.ts))),
    h(
      "td",
      {},
      event.description,
      event.critical ? h("span", { class: "badge" }, "критичное") : null,
    ),
  );
}

export async function renderJournal(panel, meter) {
  const path = `meters/${encodeURIComponent(meter.meter_id)}/journal`;
  // The first page without a month: the API answers the current month in the meter's zone.
  const [kinds, first] = await Promise.all([
    getJson(`${path}/kinds`),
    getJson(path, { limit: PAGE }),
  ]);
  const months = monthsBack(first.month, MONTHS_LISTED).map((month) => [month, monthTitle(month)]);
  const month = select("journal-month", months, first.month);
  month.required = true;
  const kind = select("journal-kind", [["", "Все"], ...kinds.map((k) => [k.id, k.title])], "");
  const critical = select(
    "journal-critical",
    [
      ["", "Все"],
      ["true", "критичное"],
      ["false", "не критичное"],
    ],
    "",
  );
  const status = h("p", { class: "status", role: "status", id: "journal-status" });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Показать ещё");
  replace(
    panel,
    h(
      "form",
      { class: "filters", "aria-label": "Фильтры журнала событий" },
      field("Период *", month),
      field("Вид события", kind),
      field("Тип события", critical),
    ),
    status,
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": "Журнал событий", tabindex: "0" },
      h(
        "table",
        { class: "journal" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Дата и время возникновения события"),
            h("th", { scope: "col" }, "Описание события"),
          ),
        ),
        body,
      ),
    ),
    more,
  );

  let generation = 0;
  let shown = 0;

  function filters() {
    return { month: month.value, kind: kind.value, critical: critical.value };
  }

  function show(page, append) {
    if (!append) replace(body);
    body.append(...page.events.map(eventRow));
    shown = (append ? shown : 0) + page.events.length;
    more.hidden = shown >= page.total;
    status.textContent =
      page.total === 0
        ? `За ${monthTitle(page.month).toLocaleLowerCase("ru")} событий нет`
        : `Событий: ${page.total}` + (shown < page.total ? `, показано ${shown}` : "");
    panel.querySelector(".table-scroll").dataset.total = String(page.total);
  }

  async function load(append = false) {
    const mine = append ? generation : ++generation;
    try {
      const page = await getJson(path, { ...filters(), limit: PAGE, offset: append ? shown : 0 });
      if (mine === generation) show(page, append);
    } catch (error) {
      if (!(error instanceof Unauthorized)) status.textContent = problem(error);
    }
  }

  for (const control of [month, kind, critical]) control.addEventListener("change", () => load());
  more.addEventListener("click", () => load(true));
  show(first, false);
}
