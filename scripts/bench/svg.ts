/**
 * The bench's chart (bench-results/latest.svg): p50 latency and throughput as two bar charts,
 * hand-written SVG so that the bench needs no charting dependency.
 */
import type { LatencyKey } from './phases/latency.js';
import { SUBJECT_NAMES, type BenchReport } from './report.js';

const COLORS: Record<LatencyKey, string> = { a: '#2b7bb9', aRunsc: '#7fb3d5', b: '#d9534f', c: '#f0ad4e' };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Bar {
  label: string;
  value: number;
  color: string;
  text: string;
}

/** One bar chart in a `<g>` at (x, y) of the given size; bars in groups with a caption under each group. */
function barChart(title: string, groups: { caption: string; bars: Bar[] }[], x: number, y: number, width: number, height: number): string {
  const top = 40;
  const bottom = 40;
  const plotHeight = height - top - bottom;
  const max = Math.max(1e-9, ...groups.flatMap((group) => group.bars.map((bar) => bar.value)));
  const groupWidth = width / Math.max(1, groups.length);
  const parts: string[] = [
    `<g transform="translate(${x},${y})">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  parts.push(`<line x1="0" y1="${top + plotHeight}" x2="${width}" y2="${top + plotHeight}" stroke="#333"/>`);
  groups.forEach((group, g) => {
    const barWidth = Math.min(60, (groupWidth - 20) / Math.max(1, group.bars.length));
    const start = g * groupWidth + (groupWidth - barWidth * group.bars.length) / 2;
    group.bars.forEach((bar, b) => {
      const h = Math.max(1, (bar.value / max) * plotHeight);
      const bx = start + b * barWidth;
      const by = top + plotHeight - h;
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${bar.color}"><title>${escapeXml(`${bar.label}: ${bar.text}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${(bx + (barWidth - 4) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="11">${escapeXml(bar.text)}</text>`,
      );
    });
    parts.push(
      `<text x="${(g * groupWidth + groupWidth / 2).toFixed(1)}" y="${top + plotHeight + 18}" text-anchor="middle" font-size="12">${escapeXml(group.caption)}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('\n');
}

export function renderSvg(report: BenchReport): string {
  const latencyBars: Bar[] = (Object.keys(SUBJECT_NAMES) as LatencyKey[]).flatMap((key) => {
    const p50 = report.latencyMs[key]?.summary.p50;
    return p50 === undefined ? [] : [{ label: SUBJECT_NAMES[key], value: p50, color: COLORS[key], text: `${p50.toFixed(0)} ms` }];
  });
  const throughputGroups = report.throughput.map((level) => ({
    caption: `concurrency ${level.concurrency}`,
    bars: (['a', 'b', 'c'] as const).flatMap((key) => {
      const phase = level[key];
      return phase ? [{ label: SUBJECT_NAMES[key], value: phase.runsPerSecond, color: COLORS[key], text: phase.runsPerSecond.toFixed(1) }] : [];
    }),
  }));
  const legend = (['a', 'aRunsc', 'b', 'c'] as const)
    .filter((key) => key !== 'aRunsc' || report.latencyMs.aRunsc !== undefined)
    .map(
      (key, i) =>
        `<rect x="${20 + i * 230}" y="372" width="12" height="12" fill="${COLORS[key]}"/><text x="${38 + i * 230}" y="382" font-size="12">${escapeXml(SUBJECT_NAMES[key])}</text>`,
    )
    .join('\n');
  const caption = `docker-python-sandbox bench (${report.mode}), ${report.timestamp}, commit ${report.commit}${report.dirty ? ' (dirty)' : ''}`;
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="420" viewBox="0 0 960 420" font-family="sans-serif" font-size="13">',
    '<rect width="960" height="420" fill="#fff"/>',
    barChart('Hello-world latency, p50 (ms, lower is better)', [{ caption: 'sequential, quiet engine', bars: latencyBars }], 20, 0, 420, 360),
    barChart('Throughput (runs/s, higher is better)', throughputGroups, 480, 0, 460, 360),
    legend,
    `<text x="20" y="408" font-size="11" fill="#666">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
