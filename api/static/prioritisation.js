// Prioritisation pages: the scenario form reloads with the features of the chosen grid, and a
// run's page follows its progress (GET .../status) until it is done, then opens the result.
// Texts come translated from the page (data-* attributes) and from the status answers.
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) {
      return key in values ? String(values[key]) : "";
    });
  }

  function followGridChoice() {
    var select = document.querySelector("select[data-reload]");
    if (!select) return;
    select.addEventListener("change", function () {
      window.location.assign(select.getAttribute("data-reload") + encodeURIComponent(select.value));
    });
  }

  function followRun() {
    var run = document.getElementById("run");
    if (!run) return;
    var url = run.getAttribute("data-poll");
    var status = document.getElementById("run-status");
    var bar = document.getElementById("run-bar");
    var step = document.getElementById("run-step");
    var error = document.getElementById("run-error");
    var done = document.getElementById("run-done");
    var stepText = run.getAttribute("data-step-text");
    var lostText = run.getAttribute("data-lost-text");

    function show(s) {
      run.setAttribute("data-status", s.status);
      status.textContent = s.status_text;
      if (s.steps) bar.max = s.steps;
      bar.value = s.finished ? bar.max : s.step;
      step.textContent = s.finished ? "" : fill(stepText, s) + " " + s.message;
      if (s.error) {
        error.textContent = s.error;
        error.hidden = false;
      } else {
        error.hidden = true;
      }
      done.hidden = !s.succeeded;
      if (s.succeeded) {
        window.setTimeout(function () { window.location.assign(s.next); }, 800);
      }
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error(String(r.status));
          return r.json();
        })
        .then(function (s) {
          show(s);
          if (!s.finished) window.setTimeout(poll, 1500);
        })
        .catch(function () {
          step.textContent = lostText;
          window.setTimeout(poll, 5000);
        });
    }

    var state = run.getAttribute("data-status");
    if (state === "ready" || state === "solved") {
      window.setTimeout(function () { window.location.assign(run.getAttribute("data-next")); }, 800);
    } else if (state !== "infeasible" && state !== "failed") {
      window.setTimeout(poll, 1000);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    followGridChoice();
    followRun();
  });
})();
