// A small horizontal bar chart as standalone SVG, for the benchmarks' results (no dependencies, so a
// result file can be opened anywhere). Each bar has a group (left column), a label (second column,
// also picks the colour) and a value with its unit.

export interface Bar {
  group: string;
  label: string;
  /** NaN or Infinity is drawn as no bar, labelled n/a. */
  value: number;
  /** Printed after the value; defaults to the chart's unit. */
  unit?: string;
}

export interface BarChartOptions {
  title: string;
  bars: Bar[];
  /** Colour per bar label; others are grey. */
  colors?: Record<string, string>;
  unit?: string;
  /** Digits after the decimal point of the printed values (default 1). */
  digits?: number;
  widthPx?: number;
  /** Lines under the bars, small print (settings, caveats). */
  notes?: string[];
}

const ROW_PX = 22;
const BAR_PX = 16;
const GROUP_X = 10;
const LABEL_X = 150;
const BAR_X = 240;
/** Room right of the longest bar for its value. */
const VALUE_ROOM_PX = 90;

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function barChart(options: BarChartOptions): string {
  const { bars, colors = {}, unit = '', digits = 1 } = options;
  const notes = options.notes ?? [];
  const w = options.widthPx ?? 760;
  const max = Math.max(Number.MIN_VALUE, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const rows = bars
    .map((b, i) => {
      const y = 30 + i * ROW_PX;
      const finite = Number.isFinite(b.value);
      const len = finite ? (b.value / max) * (w - BAR_X - VALUE_ROOM_PX) : 0;
      const shown = finite ? `${b.value.toFixed(digits)} ${b.unit ?? unit}`.trim() : 'n/a';
      return (
        `<text x="${GROUP_X}" y="${y + 14}" font-size="12">${escapeXml(b.group)}</text>` +
        `<text x="${LABEL_X}" y="${y + 14}" font-size="12">${escapeXml(b.label)}</text>` +
        `<rect x="${BAR_X}" y="${y}" width="${len.toFixed(1)}" height="${BAR_PX}" fill="${colors[b.label] ?? '#666'}"/>` +
        `<text x="${(BAR_X + 5 + len).toFixed(1)}" y="${y + 13}" font-size="11">${escapeXml(shown)}</text>`
      );
    })
    .join('\n');
  const notesTop = 30 + bars.length * ROW_PX + 14;
  const noteRows = notes.map((n, i) => `<text x="${GROUP_X}" y="${notesTop + i * 16}" font-size="11" fill="#444">${escapeXml(n)}</text>`).join('\n');
  const h = notesTop + notes.length * 16 + (notes.length > 0 ? 0 : -4);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">` +
    `<text x="${GROUP_X}" y="18" font-size="14">${escapeXml(options.title)}</text>\n${rows}\n${noteRows}${noteRows ? '\n' : ''}</svg>\n`
  );
}
