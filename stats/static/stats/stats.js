// The statistics page's charts: Chart.js (vendored, chart.umd.min.js) draws the calls per hour, weekday and
// day from the page's JSON data block (no inline script: the CSP allows only the product's own files).
(function () {
  "use strict";
  const COLOURS = { in: "#1f6feb", out: "#2da44e", internal: "#bf8700" };

  function draw() {
    const source = document.getElementById("stats-charts");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    const data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const chart = data[canvas.dataset.chart];
      if (!chart) {
        return;
      }
      const datasets = Object.keys(chart.series).map(function (direction) {
        return {
          label: data.labels[direction] || direction,
          data: chart.series[direction],
          backgroundColor: COLOURS[direction] || "#888",
        };
      });
      canvas.dataset.total = String(datasets.reduce(function (sum, d) {
        return sum + d.data.reduce(function (a, b) { return a + b; }, 0);
      }, 0));
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: chart.labels, datasets: datasets },
        options: {
          animation: false,
          responsive: true,
          scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
      canvas.dataset.drawn = "yes";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
