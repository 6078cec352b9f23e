/* Irbis map helpers: vector-tile styles, popups with attributes and provenance, legends.
   Used by the folium pages (atlas, layer maps, case pages); no network beyond this server. */
(function () {
  "use strict";

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
      html += '<p><span class="badge example">example</span> illustrative, not an official record</p>';
    }
    html += "<table>";
    Object.keys(p).forEach(function (k) {
      if (k === "source" || k === "licence" || p[k] === null || p[k] === "") return;
      var label = (layer.labels && layer.labels[k]) || k;
      var v = p[k];
      if (k === "method") v = '<span class="badge ' + esc(v) + '">' + esc(v) + "</span>";
      else if (v === true || v === false) v = v ? "yes" : "no";
      else v = esc(v);
      html += "<tr><th>" + esc(label) + "</th><td>" + v + "</td></tr>";
    });
    html += "</table>";
    if (p.source) html += '<p class="prov"><b>Source:</b> ' + esc(p.source) + "</p>";
    if (p.licence) html += '<p class="prov"><b>Licence:</b> ' + esc(p.licence) + "</p>";
    html += '<p class="prov"><a href="/collections/' + esc(layer.id) + "/items/" + esc(feature.id) +
      '?f=html">details</a> · <span class="layer">' + esc(layer.title) + "</span></p></div>";
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
        .setContent('<div class="irbis-popup">loading…</div>').openOn(map);
      fetch("/collections/" + encodeURIComponent(layer.id) + "/items/" + encodeURIComponent(id) + "?f=json",
            { headers: { Accept: "application/geo+json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) { if (f) popup.setContent(popupHtml(layer, f)); else popup.setContent("not available"); })
        .catch(function () { popup.setContent("not available"); });
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
  function legend(map, items, title) {
    var ctl = L.control({ position: "bottomleft" });
    var div, body, button;
    function draw() {
      var html = "";
      var last = null;
      items.forEach(function (it) {
        var grid = registry[it.layer];
        if (grid && !map.hasLayer(grid)) return;
        if (it.group && it.group !== last) {
          html += '<div class="group">' + esc(it.group) + "</div>";
        }
        last = it.group || null;
        var shape = it.kind === "line" ? "line" : it.kind === "point" ? "point" : "area";
        html += '<div class="row"><span class="swatch ' + shape + '" style="background:' + esc(it.colour) +
          ";border-color:" + esc(it.stroke || it.colour) + '"></span>' + esc(it.label) +
          (it.example ? ' <span class="badge example">example</span>' : "") + "</div>";
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
      div.setAttribute("aria-label", title || "Legend");
      button = L.DomUtil.create("button", "legend-toggle", div);
      button.type = "button";
      button.textContent = title || "Legend";
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
      .setContent('<div class="irbis-popup">loading…</div>').openOn(map);
    fetch("/collections/" + encodeURIComponent(layer.id) + "/items/" + encodeURIComponent(id) + "?f=json",
          { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (f) { if (f) popup.setContent(popupHtml(layer, f)); else popup.setContent("not available"); })
      .catch(function () { popup.setContent("not available"); });
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

  window.Irbis = {
    style: style, bindPopup: bindPopup, legend: legend, popupHtml: popupHtml, layers: registry,
    dataset: dataset, filtered: filtered
  };
})();
