// Times are shown as the API gives them: the object's local time, read from the ISO text
// itself (never through the browser's zone). Numbers are shown as the API's fixed-precision text.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?/;

export const MONTHS = [
  "Январь", "Февраль", "Март", "Апрель", "Май", "Июнь",
  "Июль", "Август", "Сентябрь", "Октябрь", "Ноябрь", "Декабрь",
];
export const MONTHS_SHORT = [
  "янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек",
];
export const WEEKDAYS_SHORT = ["вс", "пн", "вт", "ср", "чт", "пт", "сб"];

function parts(iso) {
  const found = ISO.exec(iso ?? "");
  return found ? found.slice(1) : null;
}

/** 2026-11-22T15:30:00+03:00 → 22.11.2026 15:30:00 (the seed's «Данные актуальны на»). */
export function dateTime(iso) {
  const p = parts(iso);
  if (!p) return "";
  const [y, m, d, hh, mm, ss] = p;
  return hh === undefined ? `${d}.${m}.${y}` : `${d}.${m}.${y} ${hh}:${mm}:${ss}`;
}

/** 2026-11-22… → 22.11.2026. */
export function dateOnly(iso) {
  const p = parts(iso);
  return p ? `${p[2]}.${p[1]}.${p[0]}` : "";
}

/** 2023-12-01T00:00:30+03:00 → 01.12.23 00:00:30 (the journal's format). */
export function journalTime(iso) {
  const p = parts(iso);
  if (!p) return "";
  const [y, m, d, hh = "00", mm = "00", ss = "00"] = p;
  return `${d}.${m}.${y.slice(2)} ${hh}:${mm}:${ss}`;
}

/** "2023-12" → «Декабрь 2023». */
export function monthTitle(month) {
  const [y, m] = month.split("-");
  return `${MONTHS[Number(m) - 1]} ${y}`;
}

/** The months from ``last`` ("YYYY-MM") back, ``count`` of them, newest first. */
export function monthsBack(last, count) {
  let [y, m] = last.split("-").map(Number);
  const found = [];
  for (let i = 0; i < count; i += 1) {
    found.push(`${y}-${String(m).padStart(2, "0")}`);
    m -= 1;
    if (m === 0) {
      m = 12;
      y -= 1;
    }
  }
  return found;
}

/** Today's date ("YYYY-MM-DD") in ``timeZone``, moved by ``days``. */
export function localDate(timeZone, days = 0) {
  const moment = new Date(Date.now() + days * 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone }).format(moment);
}

/** "YYYY-MM-DD" plus ``days`` (calendar arithmetic, no zone involved). */
export function addDays(day, days) {
  const [y, m, d] = day.split("-").map(Number);
  const moment = new Date(Date.UTC(y, m - 1, d + days));
  return moment.toISOString().slice(0, 10);
}

/** The Monday of the week that holds ``day`` (weeks start on Monday, as in the seed). */
export function monday(day) {
  const [y, m, d] = day.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return addDays(day, -((weekday + 6) % 7));
}

/** A value cell: the API's fixed-precision text as the seed prints it ("8.116"); null is empty. */
export function value(text) {
  return text ?? "";
}
