/* Irbis map helpers: vector-tile styles, popups with attributes and provenance, legends,
   place labels, name search, the coordinate readout and the scale.
   Used by the folium pages (atlas, layer maps, case pages); no network beyond this server. */
(function () {
  "use strict";

  /* The words of these scripts; the page sets them in its language (Irbis.tools, from
     layers/map_words.py, translated by the server). */
  var T = {
    yes: "yes", no: "no", loading: "loading…", unavailable: "not available", source: "Source",
    licence: "Licence", details: "details", example: "example", observed: "observed",
    modelled: "modelled",
    exampleNote: "illustrative, not an official record", legend: "Legend",
    search: "Find a place, park, district or grant", searchLabel: "Search the map",
    searchNone: "Nothing found", searchFailed: "The search did not answer; try again.",
    coordinates: "Coordinates (WGS 84)", centre: "map centre", lat: "lat", lon: "lon"
  };
  var LANG = "en";

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* A VectorGrid style function for one layer description (see layers/maps.py). */
  function style(layer) {
    return function (props, zoom, dim) {
      var colour = layer.colour, fill = layer.fill;
      if (layer.by && layer.categories && props && layer.categories[props[layer.by]]) {
        colour = layer.categories[props[layer.by]];
        fill = colour;
      }
      var s = {
        color: colour, weight: layer.weight, opacity: 1,
        fill: dim !== 2, fillColor: fill, fillOpacity: layer.fillOpacity,
        radius: layer.radius
      };
      if (dim === 1) { s.fillOpacity = Math.max(layer.fillOpacity, 0.8); }
      return s;
    };
  }

  function popupHtml(layer, feature) {
    var p = feature.properties || {};
    var title = (layer.label && p[layer.label]) || (layer.title + " " + feature.id);
    var html = '<div class="irbis-popup"><h4>' + esc(title) + "</h4>";
    if (p.method === "example") {
      html += '<p><span class="badge example">' + esc(T.example) + "</span> " + esc(T.exampleNote) + "</p>";
    }
    html += "<table>";
    Object.keys(p).forEach(function (k) {
      if (k === "source" || k === "licence" || p[k] === null || p[k] === "") return;
      var label = (layer.labels && layer.labels[k]) || k;
      var v = p[k];
      if (k === "method") {  // the class keeps the value; the badge says it in the page's language
        var word = { example: T.example, observed: T.observed, modelled: T.modelled }[v] || v;
        v = '<span class="badge ' + esc(v) + '">' + esc(word) + "</span>";
      }
      else if (v === true || v === false) v = esc(v ? T.yes : T.no);
      else v = esc(v);
      html += "<tr><th>" + esc(label) + "</th><td>" + v + "</td></tr>";
    });
    html += "</table>";
    if (p.source) html += '<p class="prov"><b>' + esc(T.source) + ":</b> " + esc(p.source) + "</p>";
    if (p.licence) html += '<p class="prov"><b>' + esc(T.licence) + ":</b> " + esc(p.licence) + "</p>";
    html += '<p class="prov"><a href="/collections/' + esc(layer.id) + "/items/" + esc(feature.id) +
      '?f=html">' + esc(T.details) + '</a> · <span class="layer">' + esc(layer.title) + "</span></p></div>";
    return html;
  }

  /* Points clickable: Leaflet takes a clicked circle of radius <= 10 px for a marker and asks
     for its getLatLng(), which a VectorGrid point does not have (the click then throws and no
     popup opens); without it, the click's own position is used. */
  function clickablePoints(grid) {
    var create = grid._createLayer;
    grid._createLayer = function (feat, pxPerExtent, layerStyle) {
      var symbol = create.call(this, feat, pxPerExtent, layerStyle);
      if (feat.type === 1) symbol.getLatLng = null;
      return symbol;
    };
    return grid;
  }

  /* On click: fetch the feature (the server applies privacy rules) and show it. */
  var registry = {};

  function bindPopup(map, grid, layer) {
    registry[layer.id] = grid;
    clickablePoints(grid);
    grid.on("click", function (e) {
      var id = e.layer && e.layer.properties && e.layer.properties.id;
      if (id === undefined || id === null) return;
      var popup = L.popup({ maxWidth: 360 }).setLatLng(e.latlng)
        .setContent('<div class="irbis-popup">' + esc(T.loading) + "</div>").openOn(map);
      fetch("/collections/" + encodeURIComponent(layer.id) + "/items/" + encodeURIComponent(id) + "?f=json",
            { headers: { Accept: "application/geo+json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) { popup.setContent(f ? popupHtml(layer, f) : esc(T.unavailable)); })
        .catch(function () { popup.setContent(esc(T.unavailable)); });
      if (e.originalEvent) L.DomEvent.stop(e.originalEvent);
    });
  }

  /* Phones and narrow windows: the layer switcher and the legend start folded, each behind
     a button, so the map itself is what the screen shows. */
  var NARROW = "(max-width: 720px)";
  function narrow() { return !!(window.matchMedia && window.matchMedia(NARROW).matches); }
  if (window.L && L.Control && L.Control.Layers) {
    L.Control.Layers.addInitHook(function () { if (narrow()) this.options.collapsed = true; });
  }

  /* A legend control: a swatch per visible layer (or per category), kept in step with the
     layer switcher; its title is a button that folds it. */
  var legends = 0;
  /* Whether a tile layer whose URL holds part (a base layer) is on the map. */
  function tilesOn(map, part) {
    var on = false;
    map.eachLayer(function (l) { if (l._url && l._url.indexOf(part) >= 0) on = true; });
    return on;
  }
  function legend(map, items, title) {
    var ctl = L.control({ position: "bottomleft" });
    var div, body, button;
    function draw() {
      var html = "";
      var last = null;
      items.forEach(function (it) {
        var grid = it.layer && registry[it.layer];
        if (grid && !map.hasLayer(grid)) return;
        if (it.tiles && !tilesOn(map, it.tiles)) return;
        if (it.group && it.group !== last) {
          html += '<div class="group">' + esc(it.group) + "</div>";
        }
        last = it.group || null;
        var shape = it.kind === "line" ? "line" : it.kind === "point" ? "point" :
          it.kind === "ramp" ? "ramp" : "area";
        // a style driven by a number: its colours as a ramp (the label gives range and unit)
        var fill = it.colours ? "linear-gradient(to right, " + it.colours.join(", ") + ")" : it.colour;
        html += '<div class="row"><span class="swatch ' + shape + '" style="background:' + esc(fill) +
          ";border-color:" + esc(it.stroke || it.colour) + '"></span>' + esc(it.label) +
          (it.example ? ' <span class="badge example">' + esc(T.example) + "</span>" : "") + "</div>";
      });
      body.innerHTML = html;
    }
    function fold(open) {
      button.setAttribute("aria-expanded", String(open));
      body.hidden = !open;
    }
    ctl.onAdd = function () {
      legends += 1;
      div = L.DomUtil.create("div", "irbis-legend");
      div.setAttribute("role", "region");
      div.setAttribute("aria-label", title || T.legend);
      button = L.DomUtil.create("button", "legend-toggle", div);
      button.type = "button";
      button.textContent = title || T.legend;
      body = L.DomUtil.create("div", "legend-body", div);
      body.id = "irbis-legend-" + legends;
      button.setAttribute("aria-controls", body.id);
      fold(!narrow());
      button.addEventListener("click", function () { fold(body.hidden); });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      setTimeout(draw, 0);
      return div;
    };
    ctl.addTo(map);
    map.on("overlayadd overlayremove layeradd layerremove", function () { if (div) draw(); });
    return ctl;
  }

  /* Popups for the dataset grid: the feature's collection is known from its MVT layer. */
  function openPopup(map, layer, id, latlng) {
    var popup = L.popup({ maxWidth: 360 }).setLatLng(latlng)
      .setContent('<div class="irbis-popup">' + esc(T.loading) + "</div>").openOn(map);
    fetch("/collections/" + encodeURIComponent(layer.id) + "/items/" + encodeURIComponent(id) + "?f=json",
          { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (f) { popup.setContent(f ? popupHtml(layer, f) : esc(T.unavailable)); })
      .catch(function () { popup.setContent(esc(T.unavailable)); });
  }

  /* Every layer from the dataset tileset (/tiles/...): one request per tile position, one MVT
     layer per collection. Each collection gets an entry in the layer switcher (``toggles``);
     the tiles carry only the collections switched on (?collections=...). */
  function dataset(map, url, layers, options) {
    var byId = {}, order = [], on = {}, styles = {};
    layers.forEach(function (l) {
      byId[l.id] = l; order.push(l.id);
      var draw = style(l);
      styles[l.id] = function (props, zoom) {
        // the popup needs to know which collection a clicked feature belongs to
        Object.defineProperty(props, "_irbisLayer", { value: l.id, enumerable: false, configurable: true });
        return draw(props, zoom);
      };
    });
    function tilesUrl() {
      var ids = order.filter(function (id) { return on[id]; });
      return url + (url.indexOf("?") >= 0 ? "&" : "?") + "collections=" + ids.join(",");
    }
    var grid = L.vectorGrid.protobuf(tilesUrl(), L.extend({
      vectorTileLayerStyles: styles, interactive: true, maxZoom: 18
    }, options || {}));
    grid.irbisDataset = true;
    clickablePoints(grid);
    grid.on("click", function (e) {
      var p = e.layer && e.layer.properties;
      var id = p && p.id;
      var lid = p && p._irbisLayer;
      if (id === undefined || id === null || !byId[lid]) return;
      openPopup(map, byId[lid], id, e.latlng);
      if (e.originalEvent) L.DomEvent.stop(e.originalEvent);
    });
    var pending = null, current = null;
    function sync() {
      pending = null;
      var any = order.some(function (id) { return on[id]; });
      if (!any) { if (map.hasLayer(grid)) map.removeLayer(grid); current = null; return; }
      var next = tilesUrl();
      if (!map.hasLayer(grid)) { grid.setUrl(next, true); current = next; grid.addTo(map); return; }
      if (next !== current) {
        // re-added rather than redrawn: Leaflet's redraw() asks for tiles at a fractional zoom
        current = next; map.removeLayer(grid); grid.setUrl(next, true); grid.addTo(map);
      }
    }
    function schedule() { if (pending === null) pending = setTimeout(sync, 0); }
    var toggles = {};
    order.forEach(function (id) {
      var Toggle = L.Layer.extend({
        onAdd: function () { on[id] = true; schedule(); },
        onRemove: function () { on[id] = false; schedule(); }
      });
      var t = new Toggle();
      t.irbisLayer = id;
      toggles[id] = t;
      registry[id] = t;
    });
    grid.irbisToggles = toggles;
    return grid;
  }

  /* The features of one layer matching a filter, from OGC API Features (``url``: the first
     page; each page's "next" link is followed), drawn with the layer's style; the map is fitted
     to them once all have arrived. */
  function filtered(map, url, layer) {
    var draw = style(layer);
    var dims = { Point: 1, MultiPoint: 1, LineString: 2, MultiLineString: 2 };
    var group = L.geoJSON(null, {
      style: function (f) { return draw(f.properties, map.getZoom(), dims[f.geometry.type] || 3); },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, draw(f.properties, map.getZoom(), 1));
      }
    });
    group.on("click", function (e) {
      var f = e.layer && e.layer.feature;
      if (f && f.id !== undefined && f.id !== null) openPopup(map, layer, f.id, e.latlng);
    });
    registry[layer.id] = group;
    function next(href) {
      fetch(href, { headers: { Accept: "application/geo+json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (page) {
          if (!page) return;
          group.addData(page);
          var more = (page.links || []).filter(function (l) { return l.rel === "next"; })[0];
          if (more) { next(more.href); return; }
          group.irbisLoaded = true;
          if (group.getLayers().length) map.fitBounds(group.getBounds(), { maxZoom: 12 });
        });
    }
    next(url);
    return group.addTo(map);
  }

  /* The metric scale (Leaflet's own). */
  function scale(map) {
    return L.control.scale({ metric: true, imperial: false, position: "bottomleft" }).addTo(map);
  }

  /* The coordinates (WGS 84, 5 decimals) under the pointer; on a touch screen, or once the
     pointer has left the map, those of the map's centre. */
  function readout(map) {
    var ctl = L.control({ position: "bottomright" });
    var out, which;
    var touch = !!(window.matchMedia && window.matchMedia("(hover: none)").matches);
    function show(ll, centre) {
      if (!out) return;
      out.textContent = T.lat + " " + ll.lat.toFixed(5) + ", " + T.lon + " " + ll.lng.toFixed(5);
      which.textContent = centre ? " (" + T.centre + ")" : "";
    }
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "irbis-coords leaflet-control-attribution");
      div.setAttribute("role", "status");
      div.setAttribute("aria-live", "off");
      div.title = T.coordinates;
      var abbr = L.DomUtil.create("span", "irbis-coords-label", div);
      abbr.textContent = "WGS 84: ";
      out = L.DomUtil.create("span", "irbis-coords-value", div);
      which = L.DomUtil.create("span", "irbis-coords-which", div);
      return div;
    };
    ctl.addTo(map);
    function centre() { show(map.getCenter(), true); }
    map.on("move", function () { if (touch || !ctl.pointer) centre(); });
    if (!touch) {
      map.on("mousemove", function (e) { ctl.pointer = true; show(e.latlng, false); });
      map.on("mouseout", function () { ctl.pointer = false; centre(); });
    }
    map.whenReady(centre);
    return ctl;
  }

  /* Place labels from the server (most important first, in the page's language), asked for
     the view after each move; a label that would overlap one already placed is skipped. */
  function labels(map, url) {
    var pane = map.createPane("irbisLabels");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    var group = L.layerGroup().addTo(map);
    var seq = 0, timer = null;
    var AREA = { lake: 1, range: 1, region: 1, protected_area: 1, river: 1 };
    function box(it) {
      var p = map.latLngToContainerPoint([it.lat, it.lon]);
      var w = it.name.length * (it.kind === "range" || it.kind === "region" ? 8 : 6.6) + 6;
      var h = 15;
      if (it.angle !== undefined) {
        // a river's name along its line: the box around the turned text
        var a = Math.abs(it.angle) * Math.PI / 180;
        var bw = w * Math.cos(a) + h * Math.sin(a), bh = w * Math.sin(a) + h * Math.cos(a);
        w = bw; h = bh;
      }
      if (AREA[it.kind]) return [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
      return [p.x - w / 2, p.y - h - 3, p.x + w / 2, p.y + 3];
    }
    function overlaps(a, b) {
      return a[0] < b[2] + 4 && b[0] < a[2] + 4 && a[1] < b[3] + 2 && b[1] < a[3] + 2;
    }
    function draw(items) {
      group.clearLayers();
      var size = map.getSize(), taken = [];
      items.forEach(function (it) {
        var b = box(it);
        if (b[2] < 0 || b[3] < 0 || b[0] > size.x || b[1] > size.y) return;
        for (var i = 0; i < taken.length; i++) if (overlaps(b, taken[i])) return;
        taken.push(b);
        L.marker([it.lat, it.lon], {
          pane: "irbisLabels", interactive: false, keyboard: false,
          icon: L.divIcon({
            className: "irbis-label irbis-label-" + it.kind,
            html: "<span" + (it.angle !== undefined ?
              ' style="transform:translate(-50%,-50%) rotate(' + Number(it.angle) + 'deg)"' : "") +
              ">" + esc(it.name) + "</span>", iconSize: null
          })
        }).addTo(group);
      });
      group.irbisShown = taken.length;
    }
    function load() {
      var b = map.getBounds(), mine = ++seq;
      var west = Math.max(b.getWest(), -180), east = Math.min(b.getEast(), 180);
      var south = Math.max(b.getSouth(), -90), north = Math.min(b.getNorth(), 90);
      if (!(west < east && south < north)) return;
      var q = url + "?bbox=" + [west, south, east, north].map(function (n) { return n.toFixed(4); }).join(",") +
        "&zoom=" + Math.round(map.getZoom()) + "&lang=" + encodeURIComponent(LANG);
      fetch(q, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (d && mine === seq) draw(d.labels || []); })
        .catch(function () { /* labels are an aid: the map works without them */ });
    }
    map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(load, 120); });
    map.whenReady(load);
    return group;
  }

  /* A search box (top left): names of places, parks, districts and grants in any of the three
     languages; choosing a result flies the map to it. */
  function search(map, url) {
    var ctl = L.control({ position: "topleft" });
    var seq = 0, timer = null;
    ctl.onAdd = function () {
      var form = L.DomUtil.create("form", "irbis-search");
      form.setAttribute("role", "search");
      var label = L.DomUtil.create("label", "visually-hidden", form);
      label.htmlFor = "irbis-search-q";
      label.textContent = T.searchLabel;
      var input = L.DomUtil.create("input", "", form);
      input.type = "search";
      input.id = "irbis-search-q";
      input.name = "q";
      input.autocomplete = "off";
      input.maxLength = 80;
      input.placeholder = T.search;
      var list = L.DomUtil.create("ul", "irbis-search-results", form);
      list.setAttribute("aria-live", "polite");
      list.setAttribute("aria-label", T.searchLabel);
      var found = [];
      function go(r) {
        var b = r.bbox;
        if (b && b[0] !== null && (b[2] - b[0] > 0.01 || b[3] - b[1] > 0.01)) {
          map.flyToBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 12, duration: 0.8 });
        } else {
          map.flyTo([r.lat, r.lon], Math.max(map.getZoom(), 11), { duration: 0.8 });
        }
        list.innerHTML = "";
        input.value = r.name;
      }
      function show(results, message) {
        found = results;
        list.innerHTML = "";
        if (message) {
          var li = L.DomUtil.create("li", "none", list);
          li.textContent = message;
          return;
        }
        results.forEach(function (r) {
          var li = L.DomUtil.create("li", "", list);
          var b = L.DomUtil.create("button", "", li);
          b.type = "button";
          b.innerHTML = esc(r.name) + ' <span class="kind">' + esc(r.kind) + "</span>";
          b.addEventListener("click", function () { go(r); });
        });
      }
      function ask() {
        var q = input.value.trim();
        if (!q) { show([]); return; }
        var mine = ++seq;
        fetch(url + "?q=" + encodeURIComponent(q) + "&lang=" + encodeURIComponent(LANG),
              { headers: { Accept: "application/json" } })
          .then(function (r) {
            if (r.ok) return r.json();
            // a refused query (too long...): the server's reason, in the page's language
            return r.json().then(function (e) { return Promise.reject(e); },
                                 function () { return Promise.reject(null); });
          })
          .then(function (d) {
            if (mine !== seq) return;
            show(d.results, d.results.length ? null : T.searchNone);
          })
          .catch(function (e) {
            if (mine === seq) show([], (e && (e.message || e.description)) || T.searchFailed);
          });
      }
      input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 200); });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (found.length) go(found[0]); else ask();
      });
      L.DomEvent.disableClickPropagation(form);
      L.DomEvent.disableScrollPropagation(form);
      return form;
    };
    return ctl.addTo(map);
  }

  /* What a page adds to its map (layers/maps.py MapTools): its words first, then the scale,
     the coordinate readout, labels and, on the atlas, the search box. */
  function tools(map, config) {
    Object.keys(config.texts || {}).forEach(function (k) { T[k] = config.texts[k]; });
    LANG = config.lang || LANG;
    var out = { scale: scale(map), readout: readout(map) };
    if (config.labels) out.labels = labels(map, config.labels);
    if (config.search) out.search = search(map, config.search);
    map.irbisTools = out;
    return out;
  }

  window.Irbis = {
    style: style, bindPopup: bindPopup, legend: legend, popupHtml: popupHtml, layers: registry,
    dataset: dataset, filtered: filtered, tools: tools, texts: T
  };
})();
