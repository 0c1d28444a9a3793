// Results dashboard: charts (Chart.js) and the district map (Leaflet, no tile server).
// Everything shown comes from <script type="application/json"> elements written by the page:
// figures already formatted in the page's language (dates, lakh/crore grouping, digits), the map's
// colour classes, and the address of the records behind each bar, slice and district. Nothing is
// formatted or linked here that the server did not say.
(function () {
  "use strict";
  var GREEN = "#1f6f43";
  var PALETTE = ["#1f6f43", "#4e9a6a", "#8cc3a0", "#f2a541", "#d9534f", "#5b8def", "#9b59b6", "#7f8c8d"];

  function read(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function go(url) {
    if (url) { window.location.assign(url); }
  }

  // Axis numbers only (the tooltips carry the server's text): grouped as the page's locale groups them.
  function axisNumber(locale) {
    var format = new Intl.NumberFormat(locale || "en-IN", { maximumFractionDigits: 1 });
    return function (value) { return format.format(value); };
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
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? data.titles[items[0].dataIndex] : ""; },
              label: function (item) { return data.tooltips[item.dataIndex]; }
            }
          }
        },
        scales: {
          y: { beginAtZero: true, ticks: { callback: axisNumber(data.locale) } },
          // The server names a month at its first snapshot, at most eight of them; no tick elsewhere.
          x: { ticks: { autoSkip: false, maxRotation: 0, callback: function (value) { return data.ticks[value] || null; } } }
        }
      }
    });
  }

  function breakdownCharts() {
    if (!window.Chart) { return; }
    var locale = (read("trend-data") || {}).locale;
    document.querySelectorAll("canvas.breakdown-chart").forEach(function (canvas) {
      var data = read(canvas.getAttribute("data-chart"));
      if (!data) { return; }
      var round = data.labels.length <= 3;
      function linkAt(elements) {
        return elements.length ? data.links[elements[0].index] : null;
      }
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
          // A bar or slice with records behind it opens them; the table below offers the same links.
          onClick: function (event, elements) { go(linkAt(elements)); },
          onHover: function (event, elements) { canvas.style.cursor = linkAt(elements) ? "pointer" : "default"; },
          plugins: {
            legend: { display: round, position: "bottom" },
            tooltip: { callbacks: { label: function (item) { return data.tooltips[item.dataIndex]; } } }
          },
          scales: round ? {} : { x: { beginAtZero: true, ticks: { callback: axisNumber(locale) } } }
        }
      });
    });
  }

  function districtMap() {
    var element = document.getElementById("district-map");
    var data = read("map-data");
    if (!element || !data || !window.L) { return; }
    var map = window.L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false, attributionControl: true });
    map.attributionControl.setPrefix(false).addAttribution("OCHA/HDX COD-AB, BBS");
    fetch(element.getAttribute("data-geojson"))
      .then(function (response) { return response.json(); })
      .then(function (geojson) {
        var layer = window.L.geoJSON(geojson, {
          style: function (feature) {
            var district = data.districts[feature.properties.pcode];
            return { color: "#666", weight: 0.6, fillOpacity: 0.85, fillColor: district ? district.colour : data.noData.colour };
          },
          onEachFeature: function (feature, featureLayer) {
            var district = data.districts[feature.properties.pcode];
            featureLayer.bindTooltip(feature.properties.name + ": " + (district ? district.figure : data.noData.label), { sticky: true });
            if (district && district.url) {
              featureLayer.on("click", function () { go(district.url); });
            }
          }
        }).addTo(map);
        // The map has a view from here on: Leaflet draws the shapes only then.
        map.fitBounds(layer.getBounds());
        // Mark each district's shape; only those with records behind them look clickable.
        layer.eachLayer(function (featureLayer) {
          var path = featureLayer.getElement();
          var district = data.districts[featureLayer.feature.properties.pcode];
          if (!path) { return; }
          path.setAttribute("data-district", featureLayer.feature.properties.pcode);
          path.style.cursor = district && district.url ? "pointer" : "default";
        });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    trendChart();
    breakdownCharts();
    districtMap();
  });
})();
