/**
 * Plots drawn as SVG with no library: a bar chart and a line chart. Each is a figure
 * whose SVG has a title and a description, and whose numbers are also in a table for
 * screen readers (the text alternative).
 * @module review-charts
 */

import { el, svg } from "./review-dom.js";

const WIDTH = 560;
const HEIGHT = 180;
const PAD = { left: 44, right: 12, top: 10, bottom: 40 };
const MAX_BAR = 48;

/**
 * @typedef {Object} Series
 * @property {string} id the figure's id (ids of its title and description derive from it)
 * @property {string} title
 * @property {string} description what the plot shows, in words
 * @property {string[]} labels
 * @property {number[]} values
 * @property {string} unit the values' unit, for the table and the axis
 */

/** @param {number} max */
function niceMax(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

/** @param {Series} series @param {(frame: any) => SVGElement[]} draw */
function figure(series, draw) {
  const top = niceMax(Math.max(0, ...series.values));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const frame = {
    top,
    slot: plotWidth / Math.max(1, series.values.length),
    x: (/** @type {number} */ index) => PAD.left + (index + 0.5) * (plotWidth / Math.max(1, series.values.length)),
    y: (/** @type {number} */ value) => PAD.top + plotHeight - (value / top) * plotHeight,
    base: PAD.top + plotHeight,
  };
  const axis = [0, top / 2, top].map((value) =>
    svg(
      "g",
      { class: "tick" },
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: frame.y(value), y2: frame.y(value) }),
      svg("text", { x: PAD.left - 6, y: frame.y(value) + 4, "text-anchor": "end", text: formatValue(value) }),
    ),
  );
  // Every label when they fit, else about eight of them.
  const every = Math.max(1, Math.ceil(series.labels.length / 8));
  const labels = series.labels.map((label, index) =>
    index % every
      ? null
      : svg("text", { class: "label", x: frame.x(index), y: frame.base + 16, "text-anchor": "middle", text: label }),
  );
  const chart = svg(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": `${series.id}-title ${series.id}-desc`,
      class: "chart",
    },
    svg("title", { id: `${series.id}-title`, text: series.title }),
    svg("desc", { id: `${series.id}-desc`, text: series.description }),
    ...axis,
    ...draw(frame),
    ...labels.filter(Boolean),
    svg("text", { class: "unit", x: PAD.left, y: HEIGHT - 6, text: series.unit }),
  );
  const table = el(
    "table",
    { class: "visually-hidden" },
    el("caption", { text: series.title }),
    el("tr", {}, el("th", { scope: "col", text: "" }), el("th", { scope: "col", text: series.unit })),
    ...series.labels.map((label, index) =>
      el("tr", {}, el("th", { scope: "row", text: label }), el("td", { text: formatValue(series.values[index]) })),
    ),
  );
  return el("figure", { class: "card figure", id: series.id }, el("figcaption", { text: series.title }), chart, table);
}

/** @param {number} value two significant digits for small values, one decimal otherwise */
const formatValue = (value) => (value !== 0 && Math.abs(value) < 1 ? String(Number(value.toPrecision(2))) : String(Math.round(value * 10) / 10));

/** @param {Series} series */
export function barChart(series) {
  return figure(series, (frame) =>
    series.values.map((value, index) => {
      const width = Math.min(MAX_BAR, Math.max(2, frame.slot * 0.7));
      return svg(
        "rect",
        { class: "bar", x: frame.x(index) - width / 2, y: frame.y(value), width, height: frame.base - frame.y(value) },
        svg("title", { text: `${series.labels[index]}: ${formatValue(value)} ${series.unit}` }),
      );
    }),
  );
}

/** @param {Series} series */
export function lineChart(series) {
  return figure(series, (frame) => {
    const points = series.values.map((value, index) => `${frame.x(index)},${frame.y(value)}`).join(" ");
    return [
      svg("polyline", { class: "line", points, fill: "none" }),
      ...series.values.map((value, index) =>
        svg(
          "circle",
          { class: "dot", cx: frame.x(index), cy: frame.y(value), r: 3.5 },
          svg("title", { text: `${series.labels[index]}: ${formatValue(value)} ${series.unit}` }),
        ),
      ),
    ];
  });
}
