// Live update of the risk queue: every 5 s, ask for the queue's live part with the page's filters;
// the server answers 204 when nothing changed. Reading works without this script (reload the page).
(function () {
  "use strict";
  var box = document.getElementById("queue-live");
  var status = document.getElementById("queue-status");
  if (!box) { return; }
  var version = box.getAttribute("data-version");
  function rows() { return box.querySelectorAll("tr[data-flag-id]").length; }
  function poll() {
    var params = new URLSearchParams(window.location.search);
    params.set("seen", version);
    fetch("/pages/queue/live?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 204) { return null; }
        if (r.redirected || !r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var before = rows();
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-version]");
        box.replaceChildren.apply(box, Array.prototype.slice.call(doc.body.childNodes));
        if (fresh) { version = fresh.getAttribute("data-version"); box.setAttribute("data-version", version); }
        var now = rows();
        status.textContent = "Queue updated at " + new Date().toLocaleTimeString() + ": " + now + " flag(s)" +
          (now > before ? ", " + (now - before) + " new." : ".");
      })
      .catch(function (e) { status.textContent = "Live update paused (" + e.message + "); reload the page."; })
      .finally(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 5000);
})();
