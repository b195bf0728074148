// «Форма запроса архива данных» (S001 Fig. 172–173): the type, a month range (end of month) or
// a date range (the others), the file format; «Скачать» saves the API's CSV or XLSX.

import { Unauthorized, download, problem } from "./api.js";
import { field, h, select } from "./dom.js";
import { localDate, monthTitle, monthsBack } from "./format.js";
import { ARCHIVE_TYPES } from "./labels.js";

const MAX_MONTHS = 36;
const MAX_DAYS = 366;

let current = null; // {dialog, meter, opener, …} of this page

function daysBetween(first, last) {
  return (Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86400000 + 1;
}

function monthsBetween(first, last) {
  const [y1, m1] = first.split("-").map(Number);
  const [y2, m2] = last.split("-").map(Number);
  return (y2 - y1) * 12 + m2 - m1 + 1;
}

function build(meter) {
  const zone = meter.time_zone;
  const today = localDate(zone);
  const months = monthsBack(today.slice(0, 7), MAX_MONTHS + 24);
  const monthOptions = months.map((month) => [month, monthTitle(month)]);
  const type = select("archive-type", ARCHIVE_TYPES, "period_end");
  type.required = true;
  const fromMonth = select("archive-from-month", monthOptions, months[5]);
  const toMonth = select("archive-to-month", monthOptions, months[0]);
  const dateInput = (id, value) => h("input", { id, type: "date", value, max: today });
  const fromDate = dateInput("archive-from-date", `${months[1]}-01`);
  const toDate = dateInput("archive-to-date", today);
  const monthRange = h(
    "div",
    { class: "range", dataset: { range: "months" } },
    field("Начальный месяц", fromMonth),
    field("Конечный месяц", toMonth),
    h(
      "p",
      { class: "help" },
      `ММ.ГГГГ – ММ.ГГГГ: начальный и конечный месяцы, не более ${MAX_MONTHS}`,
    ),
  );
  const dateRange = h(
    "div",
    { class: "range", dataset: { range: "dates" } },
    field("Дата начала", fromDate),
    field("Дата окончания", toDate),
    h("p", { class: "help" }, `ДД.ММ.ГГГГ – ДД.ММ.ГГГГ: не более ${MAX_DAYS} дней`),
  );
  const formats = h(
    "fieldset",
    { class: "formats" },
    h("legend", {}, "Формат файла"),
    [
      ["csv", "CSV (Excel)"],
      ["xlsx", "XLSX"],
    ].map(([format, label]) =>
      h(
        "label",
        { class: "choice" },
        h("input", {
          type: "radio",
          name: "archive-format",
          value: format,
          checked: format === "csv",
        }),
        ` ${label}`,
      ),
    ),
  );
  const error = h("p", { class: "error", role: "alert" });
  const status = h("p", { class: "status", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Скачать");
  const close = h("button", { type: "button", class: "secondary" }, "Закрыть");
  const form = h(
    "form",
    { class: "archive-form", method: "dialog" },
    h("h2", { id: "archive-title" }, "Форма запроса архива данных"),
    field("Тип *", type),
    h("fieldset", { class: "period" }, h("legend", {}, "Период *"), monthRange, dateRange),
    formats,
    error,
    status,
    h("div", { class: "buttons" }, close, submit),
  );
  const dialog = h("dialog", { id: "archive-dialog", "aria-labelledby": "archive-title" }, form);

  function sync() {
    const months = type.value === "period_end";
    monthRange.hidden = !months;
    dateRange.hidden = months;
    error.textContent = "";
    status.textContent = "";
  }

  function range() {
    if (type.value === "period_end") {
      const [from, to] = [fromMonth.value, toMonth.value];
      if (from > to) return { problem: "Начальный месяц позже конечного." };
      if (monthsBetween(from, to) > MAX_MONTHS) {
        return { problem: `Период длиннее ${MAX_MONTHS} месяцев: разбейте его на части.` };
      }
      return { from, to };
    }
    const [from, to] = [fromDate.value, toDate.value];
    if (!from || !to) return { problem: "Укажите даты начала и окончания периода." };
    if (from > to) return { problem: "Дата начала позже даты окончания." };
    if (daysBetween(from, to) > MAX_DAYS) {
      return { problem: `Период длиннее ${MAX_DAYS} дней: разбейте его на части.` };
    }
    return { from, to };
  }

  type.addEventListener("change", sync);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => current?.opener?.focus());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = range();
    error.textContent = chosen.problem ?? "";
    status.textContent = "";
    if (chosen.problem) return;
    const format = form.querySelector('input[name="archive-format"]:checked').value;
    submit.disabled = true;
    status.textContent = "Готовим файл…";
    try {
      const name = await download(
        `meters/${encodeURIComponent(current.meter.meter_id)}/archive`,
        { type: type.value, from: chosen.from, to: chosen.to, format },
        `${current.meter.meter_id}_${type.value}_${chosen.from}_${chosen.to}.${format}`,
      );
      status.textContent = `Файл ${name} скачан.`;
    } catch (failure) {
      status.textContent = "";
      if (!(failure instanceof Unauthorized)) error.textContent = problem(failure);
      else dialog.close();
    } finally {
      submit.disabled = false;
    }
  });
  document.body.append(dialog);
  return { dialog, type, sync };
}

/** Open the form for ``meter`` with the type of the block the button belongs to. */
export function openArchive(meter, type, opener) {
  if (!current) current = { ...build(meter), meter };
  current.opener = opener;
  current.type.value = type;
  current.sync();
  current.dialog.showModal();
  current.type.focus();
}
