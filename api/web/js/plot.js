// The vendored uPlot (vendor/uplot, a classic script that defines globalThis.uPlot) as the
// charts use it: one chart per holder, redrawn on new data, following the holder's width.

export const COLORS = {
  import: "#2f6db5",
  export: "#d9822b",
  incomplete: "#f8dede", // opaque: the canvas is transparent over a white card
  partial: "#8fb3e0",
  grid: "#e3e7ed",
  axis: "#4a5260",
};

const charts = new WeakMap(); // holder → {chart, observer}

export function uPlot() {
  return globalThis.uPlot;
}

/** Draw a new chart in ``holder`` (replacing the one there, if any). */
export function plot(holder, options, data) {
  charts.get(holder)?.observer.disconnect();
  charts.get(holder)?.chart.destroy();
  holder.replaceChildren();
  const width = () => Math.max(280, holder.clientWidth);
  const chart = new (uPlot())({ ...options, width: width() }, data, holder);
  const observer = new ResizeObserver(() => {
    if (Math.abs(chart.width - width()) > 1) {
      chart.setSize({ width: width(), height: chart.height });
    }
  });
  observer.observe(holder);
  charts.set(holder, { chart, observer });
  return chart;
}

export function axis(extra) {
  return {
    stroke: COLORS.axis,
    grid: { stroke: COLORS.grid, width: 1 },
    ticks: { stroke: COLORS.grid },
    ...extra,
  };
}

/** Bars of a series, each from its x to the next point's (``align: 1``) or centred. */
export function bars(options) {
  return uPlot().paths.bars(options);
}

/** A hatch pattern for bars whose data is incomplete. */
export function hatch(ctx) {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const tileCtx = tile.getContext("2d");
  tileCtx.fillStyle = COLORS.partial;
  tileCtx.fillRect(0, 0, 8, 8);
  tileCtx.strokeStyle = COLORS.import;
  tileCtx.lineWidth = 2;
  tileCtx.beginPath();
  tileCtx.moveTo(0, 8);
  tileCtx.lineTo(8, 0);
  tileCtx.stroke();
  return ctx.createPattern(tile, "repeat");
}

export function numberOrNull(text) {
  return text === null || text === undefined ? null : Number(text);
}

export function sum(values) {
  return values.reduce((total, v) => total + (v ?? 0), 0);
}
