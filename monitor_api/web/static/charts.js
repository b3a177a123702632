/* Condition-history charts with uPlot: occupancy, living space against the thresholds,
   compliance by section, findings by severity. Data from a JSON block on the page. */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || !window.uPlot) { return; }
  var d = JSON.parse(block.textContent);
  function name(code) { return (d.names && d.names[code]) || code; }
  var palette = ["#0b4f8a", "#a4161a", "#1b5e20", "#7a4b00", "#6a1b9a", "#00695c", "#37474f", "#ad1457", "#4e342e"];
  function draw(el, series) {
    var width = Math.max(280, el.clientWidth || 320);
    var opts = { width: width, height: 220, series: [{}].concat(series.map(function (s, i) {
      return { label: s.label, stroke: s.color || palette[i % palette.length], width: 2,
               dash: s.dash, points: { show: true, size: 7 }, spanGaps: true };
    })), axes: [{}, {}], legend: { show: true } };
    var plot = new uPlot(opts, [d.x].concat(series.map(function (s) { return s.values; })), el);
    el.dataset.points = String(d.x.length);
    return plot;
  }
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var kind = el.dataset.chart, series = [];
    if (kind === "occupancy") {
      series.push({ label: el.dataset.label, values: d.occupancy });
      series.push({ label: "100 %", values: d.x.map(function () { return 100; }), color: "#767676", dash: [4, 4] });
    } else if (kind === "space") {
      series.push({ label: el.dataset.labelMin, values: d.space_min });
      series.push({ label: el.dataset.labelMedian, values: d.space_median });
      Object.keys(d.thresholds).forEach(function (src, i) {
        series.push({ label: name(src) + " (m²)", values: d.thresholds[src], color: ["#767676", "#a4161a", "#7a4b00"][i % 3], dash: [4, 4] });
      });
    } else if (kind === "compliance") {
      Object.keys(d.compliance).forEach(function (s) { series.push({ label: name(s), values: d.compliance[s] }); });
    } else if (kind === "findings") {
      Object.keys(d.findings).forEach(function (s) { series.push({ label: name(s), values: d.findings[s] }); });
    }
    if (series.length && d.x.length) { draw(el, series); }
  });
})();
