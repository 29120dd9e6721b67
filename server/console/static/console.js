// Lá Chắn console: keyboard navigation of lists and "tick all". Loaded
// from this origin only (the CSP allows no inline script); the pages work
// without it.
"use strict";
(function () {
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-href]")); }
  var at = -1;
  function select(i) {
    var list = rows();
    if (list.length === 0) { return; }
    if (at >= 0 && list[at]) { list[at].classList.remove("sel"); }
    at = Math.max(0, Math.min(list.length - 1, i));
    list[at].classList.add("sel");
    list[at].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    var list = rows();
    if (e.key === "j") { select(at + 1); e.preventDefault(); }
    else if (e.key === "k") { select(at - 1); e.preventDefault(); }
    else if (e.key === "Enter" && at >= 0 && list[at]) { window.location.assign(list[at].getAttribute("data-href")); e.preventDefault(); }
    else if (e.key === "x" && at >= 0 && list[at]) {
      var box = list[at].querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
      e.preventDefault();
    }
  });
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t || t.closest("a, input, button, label, select")) { return; }
    var row = t.closest("tr[data-href]");
    if (row) { window.location.assign(row.getAttribute("data-href")); }
  });
  // A form with data-confirm asks first (revoking or removing an agent).
  document.addEventListener("submit", function (e) {
    var msg = e.target && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("all");
    if (!all) { return; }
    all.addEventListener("change", function () {
      document.querySelectorAll("#queue tbody input[type=checkbox]").forEach(function (b) { b.checked = all.checked; });
    });
  });
})();
