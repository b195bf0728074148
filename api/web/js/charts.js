// The pictures of the «Показания» tab, under its tables: the load profile and the year's
// consumption by month. Each has its numbers in a table too, for screen readers and copying.

import { renderConsumption } from "./consumption.js";
import { h, replace } from "./dom.js";
import { renderProfile } from "./profile.js";

export async function renderCharts(holder, meter) {
  const profile = h("section", { class: "card chart-card", "aria-labelledby": "profile-title" });
  const consumption = h("section", {
    class: "card chart-card",
    "aria-labelledby": "consumption-title",
  });
  replace(holder, profile, consumption);
  await Promise.all([renderProfile(profile, meter), renderConsumption(consumption, meter)]);
}
