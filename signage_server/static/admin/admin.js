/* The staff console's small enhancements. Every page works without this file; with it:
   - buttons with data-confirm ask first;
   - the media upload shows a progress bar (XMLHttpRequest upload events);
   - playlist items reorder by drag and drop, and the up/down buttons move them in place;
   - "applied on N of M kiosks" refreshes every few seconds.
   Served by the app itself (the Content-Security-Policy allows no inline or remote script). */
(function () {
  "use strict";

  function confirmations() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter;
      var question = button && button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
      }
    });
  }

  function upload() {
    var form = document.getElementById("upload-form");
    if (!form || !window.FormData) { return; }
    var bar = document.getElementById("upload-progress");
    var percent = document.getElementById("upload-percent");
    var result = document.getElementById("upload-result");
    var button = form.querySelector("button[type=submit]");

    function show(message, warnings, ok) {
      result.textContent = "";
      var line = document.createElement("p");
      line.className = ok ? "flash success" : "flash error";
      line.textContent = message;
      result.appendChild(line);
      (warnings || []).forEach(function (text) {
        var warning = document.createElement("p");
        warning.className = "flash warning";
        warning.textContent = text;
        result.appendChild(warning);
      });
    }

    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      var file = input && input.files && input.files[0];
      if (!file) { return; }  // let the server say what is missing
      event.preventDefault();
      var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
      if (limit && file.size > limit) {
        show(form.getAttribute("data-too-big"), [], false);
        return;
      }
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          percent.textContent = bar.value + " %";
        }
      });
      request.addEventListener("load", function () {
        button.disabled = false;
        var body = null;
        try { body = JSON.parse(request.responseText); } catch (ignored) { body = null; }
        if (body && body.ok) {
          show(body.message, body.warnings, true);
          form.reset();
          window.setTimeout(function () { window.location.reload(); }, body.warnings.length ? 6000 : 1200);
        } else if (request.status === 413) {
          show(form.getAttribute("data-too-big"), [], false);
        } else {
          show((body && (body.error && body.error.message || body.error)) ||
               form.getAttribute("data-failed"), [], false);
        }
      });
      request.addEventListener("error", function () {
        button.disabled = false;
        show(form.getAttribute("data-failed"), [], false);
      });
      request.send(new FormData(form));
    });
  }

  function editor() {
    var list = document.getElementById("items");
    var order = document.getElementById("order");
    if (!list || !order || list.closest("fieldset[disabled]")) { return; }
    var live = document.createElement("p");
    live.className = "skip";
    live.setAttribute("aria-live", "assertive");
    list.parentNode.insertBefore(live, list);

    function items() { return Array.prototype.slice.call(list.querySelectorAll("li.item")); }

    function renumber() {
      var all = items();
      order.value = all.map(function (li) { return li.getAttribute("data-key"); }).join(",");
      all.forEach(function (li, i) { li.querySelector(".pos").textContent = String(i + 1); });
    }

    function announce(li) {
      var position = items().indexOf(li) + 1;
      live.textContent = (list.getAttribute("data-moved") || "").replace("{n}", position);
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-move]");
      if (!button) { return; }
      event.preventDefault();  // moved here; the server is not needed until "Save"
      var li = button.closest("li.item");
      if (button.getAttribute("data-move") === "up" && li.previousElementSibling) {
        list.insertBefore(li, li.previousElementSibling);
      } else if (button.getAttribute("data-move") === "down" && li.nextElementSibling) {
        list.insertBefore(li.nextElementSibling, li);
      }
      renumber();
      button.focus();
      announce(li);
    });

    var dragged = null;
    function clearMarks() {
      items().forEach(function (li) { li.classList.remove("drop-before", "drop-after"); });
    }
    items().forEach(function (li) {
      var handle = li.querySelector(".handle");
      // only the handle starts a drag, so text in the item's fields stays selectable
      handle.addEventListener("mousedown", function () { li.draggable = true; });
      handle.addEventListener("touchstart", function () { li.draggable = true; }, {passive: true});
      handle.addEventListener("mouseup", function () { li.draggable = false; });
    });
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li.item");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-key"));
    });
    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("li.item");
      if (!dragged || !over || over === dragged) { return; }
      event.preventDefault();
      clearMarks();
      var box = over.getBoundingClientRect();
      over.classList.add(event.clientY < box.top + box.height / 2 ? "drop-before" : "drop-after");
    });
    list.addEventListener("drop", function (event) {
      var over = event.target.closest("li.item");
      if (!dragged || !over || over === dragged) { return; }
      event.preventDefault();
      list.insertBefore(dragged, over.classList.contains("drop-before") ? over : over.nextElementSibling);
      clearMarks();
      renumber();
      announce(dragged);
    });
    list.addEventListener("dragend", function () {
      if (dragged) {
        dragged.classList.remove("dragging");
        dragged.draggable = false;
      }
      dragged = null;
      clearMarks();
    });
  }

  function rollout() {
    var node = document.getElementById("rollout");
    if (!node || !window.fetch) { return; }
    var url = node.getAttribute("data-url");
    function poll() {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.text) { node.textContent = body.text; }
        })
        .catch(function () { /* keep the last figure; try again on the next tick */ });
    }
    window.setInterval(poll, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    upload();
    editor();
    rollout();
  });
}());
