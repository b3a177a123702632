/* The facility map: Leaflet with a configurable tile layer; the facility layer draws even
   when the tile server cannot be reached. Data: GeoJSON from this site. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  var map = L.map(el, { scrollWheelZoom: false }).setView([38.6, 70.8], 6);
  var tiles = L.tileLayer(el.dataset.tiles, { maxZoom: 18, attribution: el.dataset.attribution });
  tiles.on("tileerror", function () { el.classList.add("tiles-unavailable"); });
  tiles.addTo(map);
  var mode = el.dataset.marker === "open" ? "open" : "occupancy";
  function colour(p) {
    if (mode === "open") {
      var n = p.open_recommendations;
      return n == null ? "#767676" : n === 0 ? "#1b5e20" : n < 3 ? "#b26a00" : "#a4161a";
    }
    var r = p.occupancy_rate;
    return r == null ? "#767676" : r <= 1 ? "#1b5e20" : r <= 1.2 ? "#b26a00" : "#a4161a";
  }
  function label(p) {
    var value = mode === "open"
      ? (p.open_recommendations == null ? "—" : String(p.open_recommendations))
      : (p.occupancy_rate == null ? "—" : Math.round(p.occupancy_rate * 100) + " %");
    return (mode === "open" ? el.dataset.labelOpen : el.dataset.labelOccupancy) + ": " + value;
  }
  fetch(el.dataset.geojson, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      // Facilities without data first, so the coloured markers are drawn on top of them.
      data.features.sort(function (a, b) {
        return (a.properties.occupancy_rate == null ? 0 : 1) - (b.properties.occupancy_rate == null ? 0 : 1);
      });
      var layer = L.geoJSON(data, {
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 8, color: "#000", weight: 1,
                                          fillColor: colour(f.properties), fillOpacity: 0.9 });
        },
        onEachFeature: function (f, marker) {
          var a = document.createElement("a");
          a.href = f.properties.url;
          a.textContent = f.properties.name + " (" + f.properties.code + ")";
          var div = document.createElement("div");
          div.appendChild(a);
          div.appendChild(document.createElement("br"));
          div.appendChild(document.createTextNode(label(f.properties)));
          marker.bindPopup(div);
          marker.bindTooltip(f.properties.name + " — " + label(f.properties));
        }
      }).addTo(map);
      el.dataset.markers = String(data.features.length);
      if (data.features.length) { map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 9 }); }
    });
})();
