/* Irbis pages: on narrow screens the navigation, account and language links fold behind a
   menu button (without this script they stay shown, wrapped onto several lines). */
(function () {
  "use strict";
  var button = document.getElementById("menu-toggle");
  var bar = button && button.closest(".topbar");
  if (!bar) return;
  bar.classList.add("has-menu");

  function show(open) {
    button.setAttribute("aria-expanded", String(open));
    bar.classList.toggle("menu-open", open);
  }

  button.addEventListener("click", function () {
    show(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && bar.classList.contains("menu-open")) {
      show(false);
      button.focus();
    }
  });
})();
