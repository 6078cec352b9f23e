// An analysis run's page, while the run is still at work (asked with Prefer: respond-async):
// ask its record (GET /analyses/{id}?f=json) every few seconds, and once it has ended, load
// the page again to show how it ended. Nothing is reloaded on a timer while nothing changed.
(function () {
  "use strict";

  function follow() {
    var note = document.querySelector("[data-poll]");
    if (!note) return;
    var url = note.getAttribute("data-poll");

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error(String(r.status));
          return r.json();
        })
        .then(function (run) {
          if (run.status === "running") window.setTimeout(poll, 3000);
          else window.location.reload();
        })
        .catch(function () {
          window.setTimeout(poll, 10000); // the server may be away for a moment
        });
    }

    window.setTimeout(poll, 3000);
  }

  document.addEventListener("DOMContentLoaded", follow);
})();
