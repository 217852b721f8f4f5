// Progress bars that update without reloading: each [data-job] element polls its
// status URL (a small JSON endpoint) until the task has finished. The words come from
// the server (`status_label`, `note`), so a page and its live updates say the same.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 15000;
  var FINISHED = ["SUCCESSFUL", "FAILED", "UNKNOWN"];
  // Answers that polling again cannot change: say why, and stop.
  var STOP = {
    401: "Your session has ended: reload the page to log in again.",
    404: "This task is no longer available."
  };

  function field(el, name) {
    return el.querySelector('[data-field="' + name + '"]');
  }

  function flag(el, name, on) {
    if (on) { el.setAttribute(name, ""); } else { el.removeAttribute(name); }
  }

  // The bar's width, from the percentage the page states (no style attribute: CSP).
  function fill(bar, percent) {
    bar.setAttribute("aria-valuenow", String(percent));
    bar.firstElementChild.style.width = percent + "%";
  }

  function showError(el, text) {
    var error = field(el, "error");
    error.textContent = text || "";
    error.hidden = !text;
  }

  function render(el, data) {
    el.dataset.state = data.status;
    flag(el, "data-will-retry", data.will_retry);
    var badge = field(el, "status");
    badge.textContent = data.status_label;
    badge.dataset.state = data.status;
    flag(badge, "data-will-retry", data.will_retry);
    field(el, "message").textContent = data.message || "";
    field(el, "note").textContent = data.note || "";
    fill(field(el, "bar"), data.percent);
    showError(el, data.error);
    var attempts = document.querySelector('[data-attempts-for="' + data.id + '"]');
    if (attempts) {
      attempts.textContent = data.attempts + (data.max_attempts ? " / " + data.max_attempts : "");
    }
  }

  function poll(el, delay) {
    fetch(el.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (STOP[response.status]) {
          showError(el, STOP[response.status]);
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data === null) { return; }
        render(el, data);
        if (!data.finished) {
          window.setTimeout(function () { poll(el, POLL_MS); }, POLL_MS);
        } else if (el.hasAttribute("data-reload-on-finish")) {
          window.location.reload();
        }
      })
      .catch(function () {
        var next = Math.min(delay * 2, MAX_BACKOFF_MS);
        window.setTimeout(function () { poll(el, next); }, next);
      });
  }

  document.querySelectorAll("[data-job]").forEach(function (el) {
    var bar = field(el, "bar");
    fill(bar, Number(bar.getAttribute("aria-valuenow")) || 0);
    if (FINISHED.indexOf(el.dataset.state) === -1) { poll(el, POLL_MS); }
  });
})();
