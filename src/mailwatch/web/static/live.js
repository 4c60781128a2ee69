/* mailwatch's live pages: fetch the page again when /live says the status version moved
   (and every data-live-refresh-s seconds anyway, for the clocks), then swap each element
   marked data-live-region for its fresh copy. Without this script the pages still work. */
(function () {
  "use strict";
  var body = document.body;
  var shown = body.getAttribute("data-live-version");
  if (shown === null || !window.fetch || !window.DOMParser) {
    return;
  }
  var everyMs = (parseInt(body.getAttribute("data-live-refresh-s"), 10) || 60) * 1000;
  var busy = false;
  var again = false;
  var timer = null;
  var updates = 0;

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  function swap(text) {
    var fresh = new DOMParser().parseFromString(text, "text/html");
    var regions = fresh.querySelectorAll("[data-live-region][id]");
    for (var i = 0; i < regions.length; i++) {
      var old = document.getElementById(regions[i].id);
      if (old !== null) {
        old.replaceWith(document.importNode(regions[i], true));
      }
    }
    shown = fresh.body.getAttribute("data-live-version") || shown;
    updates += 1;
    body.setAttribute("data-live-version", shown);
    body.setAttribute("data-live-updates", String(updates));
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        var type = answer.headers.get("Content-Type") || "";
        if (answer.redirected || !answer.ok || type.indexOf("text/html") !== 0) {
          window.location.reload(); /* logged out, or the page is gone: show why */
          return null;
        }
        return answer.text();
      })
      .then(function (text) {
        if (text !== null) {
          swap(text);
        }
      })
      .catch(function () { /* the daemon is restarting: the next event or timer retries */ })
      .then(function () {
        busy = false;
        schedule(everyMs);
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function listen() {
    if (!window.EventSource) {
      return false;
    }
    var source = new EventSource("/live");
    source.addEventListener("version", function (event) {
      body.setAttribute("data-live-connected", "true");
      if (event.data !== shown) {
        refresh();
      }
    });
    source.onerror = function () {
      body.setAttribute("data-live-connected", "false");
      if (source.readyState === EventSource.CLOSED) {
        /* refused (a login page instead of a stream): fall back to fetching now and then */
        everyMs = Math.min(everyMs, 10000);
        schedule(everyMs);
      }
    };
    return true;
  }

  if (!listen()) {
    everyMs = Math.min(everyMs, 5000);
  }
  schedule(everyMs);
})();
