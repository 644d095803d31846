// Printing the score page prints every section: a folded <details> would
// print as its heading only, so each one is opened just before printing and
// the reader's folds are put back afterwards. Without this script the page
// still prints what is open.
(function () {
  "use strict";
  var opened = [];
  window.addEventListener("beforeprint", function () {
    var folded = document.querySelectorAll("details:not([open])");
    opened = Array.prototype.slice.call(folded);
    opened.forEach(function (details) {
      details.open = true;
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (details) {
      details.open = false;
    });
    opened = [];
  });
})();
