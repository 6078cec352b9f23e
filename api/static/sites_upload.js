// The field-site upload page: dry run (report + preview), then commit; no external requests.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("upload-form");
  const grantSel = document.getElementById("grant");
  const fileIn = document.getElementById("file");
  const commitBtn = document.getElementById("commit");
  const message = document.getElementById("message");
  const reportBox = document.getElementById("report");
  const map = L.map("map", { attributionControl: true }).setView([43.0, 70.0], 5);
  map.attributionControl.addAttribution("Boundaries: Natural Earth");
  // the site's context, as on the threat pages: relief, water, ice, districts, settlements
  const site = JSON.parse(document.getElementById("site-map-data").textContent);
  const tileOptions = { attribution: site.attribution, maxNativeZoom: 12, maxZoom: 16 };
  const bases = {};
  bases[site.names.relief] = L.tileLayer(site.relief, tileOptions).addTo(map);
  bases[site.names.hillshade] = L.tileLayer(site.hillshade, tileOptions);
  const overlays = {};
  site.context.forEach(function (c) {
    const styles = {};
    styles[c.layer.id] = Irbis.style(c.layer);
    overlays[c.layer.title] = L.vectorGrid.protobuf(c.url, {
      vectorTileLayerStyles: styles, interactive: false, minZoom: c.minZoom,
      maxNativeZoom: c.maxNativeZoom, maxZoom: 18, attribution: site.dataAttribution
    }).addTo(map);
  });
  L.control.layers(bases, overlays, { collapsed: true }).addTo(map);
  Irbis.tools(map, site.tools);
  const countries = JSON.parse(document.getElementById("countries-data").textContent);
  L.geoJSON(countries, { interactive: false, style: { color: "#546e7a", weight: 1, fill: false } }).addTo(map);
  const colours = { ok: "#2e7d32", warning: "#ef6c00", error: "#c62828" };
  // the page's words in its language (sites_upload.html), with {n}, {name} ... to fill in
  const words = JSON.parse(document.getElementById("upload-words").textContent);
  const lang = document.documentElement.lang || "en";
  function say(key, values) {
    return words[key].replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
  }
  function number(x) { return x === null || x === undefined ? "" : x.toLocaleString(lang); }
  let saved = null;
  let preview = null;

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function url(dryRun) {
    const params = new URLSearchParams({ dry_run: dryRun ? "true" : "false" });
    const epsg = document.getElementById("epsg").value.trim();
    if (epsg) params.set("epsg", epsg);
    const nameField = document.getElementById("name-field").value.trim();
    if (nameField) params.set("name_field", nameField);
    if (document.getElementById("swap").checked) params.set("swap_xy", "true");
    if (document.getElementById("confirm-repairs").checked) params.set("confirm_repairs", "true");
    return "/api/grants/" + encodeURIComponent(grantSel.value) + "/sites?" + params;
  }

  let loadSeq = 0;
  async function loadSaved(focusIds) {
    const seq = ++loadSeq; // a slower, older answer must not overwrite a newer one
    const r = await fetch("/api/grants/" + encodeURIComponent(grantSel.value) + "/sites", { credentials: "same-origin" });
    if (!r.ok || seq !== loadSeq) return;
    const fc = await r.json();
    if (seq !== loadSeq) return;
    if (saved) map.removeLayer(saved);
    saved = L.geoJSON(fc, {
      style: { color: "#0277bd", weight: 1.5, fillColor: "#4fc3f7", fillOpacity: 0.45 },
      onEachFeature: (f, layer) => layer.bindTooltip(escapeHtml(f.properties.name)),
    }).addTo(map);
    saved.getLayers().forEach((l) => l.getElement && l.getElement() && l.getElement().classList.add("saved-site"));
    document.getElementById("map").dataset.savedSites = String(fc.features.length);
    const base = "/api/grants/" + encodeURIComponent(grantSel.value) + "/sites/";
    document.getElementById("saved-rows").innerHTML = fc.features.map((f) =>
      '<tr class="saved-row" data-id="' + f.id + '"><td>' + escapeHtml(f.properties.name) + "</td><td>" +
      number(f.properties.area_ha) + "</td><td>" +
      escapeHtml((f.properties.uploaded_at || "").slice(0, 10)) + '</td><td><a href="' + base + f.id +
      '/versions">' + escapeHtml(words.history) + '</a> <button type="button" class="delete-site">' +
      escapeHtml(words.delete) + "</button></td></tr>").join("") ||
      '<tr><td colspan="4">' + escapeHtml(words.no_sites) + "</td></tr>";
    const focus = saved.getLayers().filter((l) => focusIds && focusIds.includes(l.feature.id));
    if (focus.length) {
      map.fitBounds(L.featureGroup(focus).getBounds(), { maxZoom: 10, animate: false });
    } else if (!preview && fc.features.length) {
      map.fitBounds(saved.getBounds(), { maxZoom: 10, animate: false });
    }
  }

  function showReport(body) {
    reportBox.hidden = false;
    const notes = document.getElementById("notes");
    // the notes in the page's language when the server gave them so (local_notes)
    notes.innerHTML = (body.local_notes || body.notes).map((n) => "<li>" + escapeHtml(n) + "</li>").join("");
    const c = body.counts;
    notes.insertAdjacentHTML("afterbegin", "<li><strong>" + escapeHtml(say("counts", c)) + "</strong></li>");
    document.getElementById("rows").innerHTML = body.features.map((f) =>
      '<tr class="feature-row"><td>' + (f.index + 1) + "</td><td>" + escapeHtml(f.name) + '</td><td class="status-' +
      f.status + '">' + escapeHtml(words.status[f.status] || f.status) + "</td><td>" + number(f.area_ha) +
      "</td><td>" + escapeHtml(f.countries.join(", ")) + "</td><td>" +
      escapeHtml(words.action[f.action] || f.action || "") + "</td><td><ul>" +
      f.issues.map(finding).join("") +
      (f.local_note ? "<li>" + escapeHtml(f.local_note) + "</li>" : f.note ? '<li lang="en">' + escapeHtml(f.note) + "</li>" : "") +
      "</ul></td></tr>").join("");
  }

  // a finding: the check's own words (with the figures) in the page's language when the server
  // gave them so (local_message); else what the code means in the page's language, then the
  // English words
  function finding(i) {
    const head = words.codes[i.code];
    const detail = '<span lang="en">' + escapeHtml(i.message) + "</span>";
    const text = i.local_message ? escapeHtml(i.local_message)
      : head && lang !== "en" ? escapeHtml(head) + " <small>(" + detail + ")</small>" : detail;
    return '<li class="issue-' + i.severity + '" data-code="' + escapeHtml(i.code) + '">' + text + "</li>";
  }

  function showPreview(fc) {
    if (preview) map.removeLayer(preview);
    preview = L.geoJSON(fc, {
      style: (f) => ({ color: colours[f.properties.status] || "#333", weight: 2, fillOpacity: 0.3, dashArray: "4 3" }),
      onEachFeature: (f, layer) => layer.bindTooltip(escapeHtml(f.properties.name) + " (" + f.properties.status + ")"),
    }).addTo(map);
    document.getElementById("map").dataset.previewFeatures = String(fc.features.length);
    if (fc.features.length) map.fitBounds(preview.getBounds(), { maxZoom: 10, animate: false });
  }

  async function send(dryRun) {
    if (!fileIn.files.length) { message.textContent = words.choose; return null; }
    const data = new FormData();
    data.append("file", fileIn.files[0]);
    message.textContent = dryRun ? words.checking : words.saving;
    const r = await fetch(url(dryRun), { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    let body = null;
    try { body = await r.json(); } catch (e) { body = {}; }
    if (!r.ok) {
      // the API's reason: in the page's language when the server has it (message), else its
      // English description
      message.textContent = say("refused", { reason: body.message || body.description || say("server_answered", { status: r.status }) });
      message.className = "error";
      if (body.details && body.details.features) { showReport(body.details); showPreview(body.details.preview); }
      return null;
    }
    message.className = "";
    return body;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    commitBtn.disabled = true;
    const body = await send(true);
    if (!body) return;
    showReport(body);
    showPreview(body.preview);
    const todo = body.features.filter((f) => f.action === "insert" || f.action === "replace").length;
    message.textContent = body.ok ? say("checked", { n: todo }) : words.has_errors;
    commitBtn.disabled = !body.ok || todo === 0;
  });

  commitBtn.addEventListener("click", async () => {
    commitBtn.disabled = true;
    const body = await send(false);
    if (!body) return;
    showReport(body);
    const n = body.features.filter((f) => f.action === "insert" || f.action === "replace").length;
    if (preview) { map.removeLayer(preview); preview = null; }
    await loadSaved(body.features.map((f) => f.site_id).filter((id) => id));
    message.textContent = say("saved", { n: n, grant: body.grant });
  });

  document.getElementById("saved-rows").addEventListener("click", async (ev) => {
    if (!ev.target.classList.contains("delete-site")) return;
    const row = ev.target.closest("tr");
    const name = row.firstElementChild.textContent;
    if (!window.confirm(say("confirm_delete", { name: name }))) return;
    const r = await fetch("/api/grants/" + encodeURIComponent(grantSel.value) + "/sites/" + row.dataset.id,
      { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    await loadSaved();
    message.textContent = r.ok ? say("deleted", { name: name }) : say("delete_failed", { status: r.status });
  });

  grantSel.addEventListener("change", () => loadSaved());
  fileIn.addEventListener("change", () => { commitBtn.disabled = true; });
  loadSaved();
})();
