/* Irbis pages: on narrow screens the navigation, account and language links fold behind a
   menu button (without this script they stay shown, wrapped onto several lines), and a table or
   a preformatted block wider than the screen, which scrolls within itself, can be scrolled from
   the keyboard. */
(function () {
  "use strict";
  function scrollableBoxes() {
    document.querySelectorAll("main table, main pre").forEach(function (t) {
      var scrolls = t.scrollWidth > t.clientWidth || t.scrollHeight > t.clientHeight;
      if (scrolls && !t.hasAttribute("tabindex")) t.tabIndex = 0;
    });
  }
  scrollableBoxes();
  window.addEventListener("resize", scrollableBoxes);

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
