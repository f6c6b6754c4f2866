// Time series: uPlot for the charts, a tiny SVG polyline for the sparklines in table rows.
import uPlot from '/vendor/uPlot.esm.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Points kept per series (at one sample per few seconds: several minutes of history). */
export const HISTORY_POINTS = 120;

/** Appends `value` to `list`, dropping the oldest beyond HISTORY_POINTS. */
export function remember(list, value) {
  list.push(value);
  if (list.length > HISTORY_POINTS) list.shift();
  return list;
}

/** A 60×16 sparkline of `values` (numbers or null). */
export function sparkline(values) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', '60');
  svg.setAttribute('height', '16');
  const numbers = values.filter((v) => typeof v === 'number');
  if (numbers.length < 2) return svg;
  const max = Math.max(...numbers) || 1;
  const step = 60 / (values.length - 1);
  const points = values
    .map((v, i) =>
      typeof v === 'number' ? `${(i * step).toFixed(1)},${(15 - (v / max) * 14).toFixed(1)}` : '',
    )
    .filter(Boolean)
    .join(' ');
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points);
  svg.append(line);
  return svg;
}

/**
 * A live line chart in `element`: `push(time, ...values)` adds a point per
 * series and redraws. Series are `{label, stroke}`.
 */
export function liveChart(element, series) {
  const data = [[], ...series.map(() => [])];
  const width = () => Math.max(320, Math.min(element.clientWidth || 720, 900));
  const plot = new uPlot(
    {
      width: width(),
      height: 160,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5 }))],
      axes: [{}, { size: 60 }],
    },
    data,
    element,
  );
  return {
    push(time, ...values) {
      remember(data[0], time / 1000);
      for (const [i, v] of values.entries()) remember(data[i + 1], v);
      plot.setData(data);
    },
    reset() {
      for (const column of data) column.length = 0;
      plot.setData(data);
    },
  };
}
