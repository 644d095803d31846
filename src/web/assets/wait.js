// The pending page waits for its report with one long-poll at a time
// (`/api/tests/{id}?wait=30`) and reloads itself when the report exists.
// A <meta http-equiv="refresh"> would do the same without script, but it
// reloads the whole page every few seconds under a screen reader's cursor
// (WCAG 2.2.1, axe's meta-refresh); without this script the page keeps a
// plain "refresh" link.
(function () {
  "use strict";
  var status = document.querySelector("[data-wait]");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-wait");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : Promise.reject(response.status);
      })
      .then(function (report) {
        if (report.status === "pending") {
          poll();
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        // The server restarts or the network is away: try again calmly.
        setTimeout(poll, 5000);
      });
  }
  poll();
})();
