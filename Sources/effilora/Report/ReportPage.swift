import EffiFormats
import Foundation

/// The report as one self-contained HTML file: Debian's Chart.js 3.9.1 (`libjs-chart.js`, whose
/// sha256 scripts/setup.sh checks) inlined, the sections as JSON, and a short script that draws
/// them. When every chart has been built the script sets `data-charts` (charts built),
/// `data-drawn` (charts whose canvas holds pixels) and `data-errors` (script errors) on <body>,
/// which `chromium --dump-dom` shows.
enum ReportPage {
    static let chartJSPath = "/usr/share/javascript/chart.js/chart.min.js"

    /// Chart.js's source, checked to be version 3.9.1 (the options the script uses are 3.x's).
    static func chartJS() throws -> String {
        guard let data = FileManager.default.contents(atPath: chartJSPath) else {
            throw FormatError(chartJSPath, "is missing: the report inlines Debian's Chart.js (apt install libjs-chart.js; scripts/setup.sh installs it)")
        }
        let source = String(decoding: data, as: UTF8.self)
        guard source.prefix(200).contains("Chart.js v3.9.1") else {
            throw FormatError(chartJSPath, "is not Chart.js 3.9.1 (its banner: \(source.prefix(60).split(separator: "\n").dropFirst().first ?? ""))")
        }
        return source
    }

    static func html(title: String, sections: [ReportSection], tables: String) throws -> String {
        let kept = sections.map { ReportSection(title: $0.title, charts: $0.charts.filter(\.hasData)) }.filter { !$0.charts.isEmpty }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every "<" as \u003c, so no text inside the JSON can end the <script> or open a comment in it.
        let json = String(decoding: try encoder.encode(kept), as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
        .chart { width: 900px; height: 380px; margin: 1em 0; } .chart.tall { height: 620px; }
        table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        </style>
        <script>window.reportErrors = []; window.addEventListener('error', e => window.reportErrors.push(String(e.message)));</script>
        <script>\(try chartJS())</script>
        </head><body>
        <h1>\(escape(title))</h1>
        \(tables)
        <div id="charts"></div>
        <script>const sections = \(json);</script>
        <script>\(script)</script>
        </body></html>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Builds one Chart.js chart per spec (no animation, so each is drawn when built), then counts
    /// the canvases that hold pixels.
    static let script = #"""
    const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
    // ± error whiskers over bars whose dataset has `errors`.
    const errorBars = { id: 'errorBars', afterDatasetsDraw(chart) {
      const ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach((ds, i) => {
        if (!ds.errors || chart.getDatasetMeta(i).hidden) return;
        chart.getDatasetMeta(i).data.forEach((bar, j) => {
          const v = ds.data[j], e = ds.errors[j];
          if (v == null || e == null) return;
          const top = y.getPixelForValue(v + e), bottom = y.getPixelForValue(v - e);
          ctx.save(); ctx.strokeStyle = '#222'; ctx.lineWidth = 1; ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
          ctx.moveTo(bar.x - 4, top); ctx.lineTo(bar.x + 4, top); ctx.moveTo(bar.x - 4, bottom); ctx.lineTo(bar.x + 4, bottom);
          ctx.stroke(); ctx.restore();
        });
      });
    } };
    // Heatmap colour: white → dark blue over [min, max] of the chart's cells.
    function shade(t) {
      const a = [247, 251, 255], b = [8, 48, 107], c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
    const axis = (text, extra) => Object.assign({ title: { display: !!text, text: text } }, extra || {});
    function config(spec) {
      const title = { display: true, text: spec.title };
      if (spec.kind === 'line') {
        return { type: 'line', data: { datasets: spec.series.map((s, i) => ({ label: s.label, data: s.points.map(p => ({ x: p[0], y: p[1] })),
                   borderColor: palette[i % 10], backgroundColor: palette[i % 10], pointRadius: s.points.length > 60 ? 0 : 2, borderWidth: 1.5 })) },
                 options: { animation: false, maintainAspectRatio: false, plugins: { title },
                            scales: { x: axis(spec.xLabel, { type: 'linear' }), y: axis(spec.yLabel) } } };
      }
      if (spec.kind === 'bar') {
        const stacked = spec.series.some(s => s.stack);
        return { type: 'bar', data: { labels: spec.labels, datasets: spec.series.map((s, i) => ({ label: s.label, data: s.values,
                   errors: s.errors, stack: s.stack, backgroundColor: palette[i % 10], maxBarThickness: 60 })) },
                 options: { animation: false, maintainAspectRatio: false, plugins: { title },
                            scales: { x: axis(spec.xLabel, { stacked }), y: axis(spec.yLabel, { stacked, beginAtZero: true }) } },
                 plugins: [errorBars] };
      }
      // A heatmap as horizontal stacked bars: one bar per row, one unit-wide segment per column,
      // each coloured by its cell (empty cells transparent).
      const values = spec.cells.flat().filter(v => v != null);
      const low = Math.min(...values), high = Math.max(...values), span = high > low ? high - low : 1;
      const datasets = spec.labels.map((column, c) => ({ label: column, data: spec.rowLabels.map(() => 1),
        cells: spec.cells.map(row => row[c]), borderWidth: 0, barPercentage: 1, categoryPercentage: 1,
        backgroundColor: spec.cells.map(row => row[c] == null ? 'rgba(0,0,0,0)' : shade((row[c] - low) / span)) }));
      return { type: 'bar', data: { labels: spec.rowLabels, datasets },
               options: { indexAxis: 'y', animation: false, maintainAspectRatio: false,
                          plugins: { title, legend: { display: false },
                                     subtitle: { display: true, text: `white ${low.toPrecision(3)} … blue ${high.toPrecision(3)}` },
                                     tooltip: { callbacks: { label: ctx => {
                                       const v = ctx.dataset.cells[ctx.dataIndex];
                                       return `${spec.rowLabels[ctx.dataIndex]}, ${spec.labels[ctx.datasetIndex]}: ${v == null ? '–' : v.toPrecision(4)}`; } } } },
                          scales: { x: axis(spec.xLabel, { stacked: true, min: 0, max: spec.labels.length, grid: { display: false },
                                                           // one tick at the middle of each column, labelled with it
                                                           afterBuildTicks: scale => { scale.ticks = spec.labels.map((_, c) => ({ value: c + 0.5 })); },
                                                           ticks: { autoSkip: true, callback: (v, i) => spec.labels[i] } }),
                                    y: axis(spec.yLabel, { stacked: true, grid: { display: false } }) } } };
    }
    const root = document.getElementById('charts');
    const canvases = [];
    for (const section of sections) {
      const h = document.createElement('h2'); h.textContent = section.title; root.appendChild(h);
      for (const spec of section.charts) {
        const box = document.createElement('div');
        box.className = spec.kind === 'heatmap' && spec.rowLabels.length > 16 ? 'chart tall' : 'chart';
        const canvas = document.createElement('canvas'); box.appendChild(canvas); root.appendChild(box);
        try { new Chart(canvas, config(spec)); canvases.push(canvas); } catch (e) { window.reportErrors.push(`${spec.title}: ${e}`); }
      }
    }
    // Drawn: the chart laid out at least one element (a point, bar or cell) and its canvas holds pixels.
    const drawn = canvases.filter(c => {
      const chart = Chart.getChart(c);
      if (!chart || !chart.data.datasets.some((_, i) => chart.getDatasetMeta(i).data.length > 0)) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
      return false;
    }).length;
    document.body.dataset.charts = String(sections.reduce((n, s) => n + s.charts.length, 0));
    document.body.dataset.drawn = String(drawn);
    document.body.dataset.errors = window.reportErrors.join(' | ');
    """#
}
