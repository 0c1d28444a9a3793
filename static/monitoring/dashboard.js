// Results dashboard: charts (Chart.js) and the district map (Leaflet, no tile server).
// The figures come from <script type="application/json"> elements written by the page.
(function () {
  "use strict";
  var GREEN = "#1f6f43";
  var PALETTE = ["#1f6f43", "#4e9a6a", "#8cc3a0", "#f2a541", "#d9534f", "#5b8def", "#9b59b6", "#7f8c8d"];
  var SHADES = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"];

  function read(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function format(value) {
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 1 });
  }

  function trendChart() {
    var canvas = document.getElementById("trend-chart");
    var data = read("trend-data");
    if (!canvas || !data || !window.Chart) { return; }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{ label: data.name, data: data.values, borderColor: GREEN, backgroundColor: GREEN, tension: 0.2, pointRadius: 2 }]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return format(c.parsed.y); } } } },
        scales: { y: { beginAtZero: true, ticks: { callback: format } }, x: { ticks: { maxTicksLimit: 8 } } }
      }
    });
  }

  function breakdownCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas.breakdown-chart").forEach(function (canvas) {
      var data = read(canvas.getAttribute("data-chart"));
      if (!data) { return; }
      var round = data.labels.length <= 3;
      new window.Chart(canvas, {
        type: round ? "doughnut" : "bar",
        data: {
          labels: data.labels,
          datasets: [{ data: data.values, backgroundColor: round ? PALETTE : GREEN }]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          indexAxis: round ? undefined : "y",
          plugins: {
            legend: { display: round, position: "bottom" },
            tooltip: { callbacks: { label: function (c) { return format(round ? c.parsed : c.parsed.x); } } }
          },
          scales: round ? {} : { x: { beginAtZero: true, ticks: { callback: format } } }
        }
      });
    });
  }

  function districtMap() {
    var element = document.getElementById("district-map");
    var data = read("map-data");
    if (!element || !data || !window.L) { return; }
    var values = Object.keys(data.values).map(function (key) { return data.values[key]; }).sort(function (a, b) { return a - b; });
    var max = values.length ? values[values.length - 1] : 0;
    function shade(value) {
      if (!value) { return "#f7f7f7"; }
      var index = Math.min(SHADES.length - 1, Math.floor((value / (max || 1)) * SHADES.length));
      return SHADES[index];
    }
    var map = window.L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false, attributionControl: true });
    map.attributionControl.setPrefix(false).addAttribution("OCHA/HDX COD-AB, BBS");
    fetch(element.getAttribute("data-geojson"))
      .then(function (response) { return response.json(); })
      .then(function (geojson) {
        var layer = window.L.geoJSON(geojson, {
          style: function (feature) {
            return { color: "#666", weight: 0.6, fillOpacity: 0.85, fillColor: shade(data.values[feature.properties.pcode]) };
          },
          onEachFeature: function (feature, featureLayer) {
            var value = data.values[feature.properties.pcode];
            featureLayer.bindTooltip(feature.properties.name + ": " + (value ? format(value) : "0"), { sticky: true });
          }
        }).addTo(map);
        map.fitBounds(layer.getBounds());
        var legend = window.L.control({ position: "bottomright" });
        legend.onAdd = function () {
          var div = window.L.DomUtil.create("div", "map-legend");
          var title = window.L.DomUtil.create("strong", "", div);
          title.textContent = data.unit;
          var range = window.L.DomUtil.create("div", "", div);
          range.textContent = "0 – " + format(max);
          return div;
        };
        legend.addTo(map);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    trendChart();
    breakdownCharts();
    districtMap();
  });
})();
