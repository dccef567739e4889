// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Confirm destructive buttons (forms carrying data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Filters apply as soon as a select or checkbox changes.
  var filters = document.getElementById("case-filters");
  if (filters) {
    filters.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT" || event.target.type === "checkbox") {
        filters.submit();
      }
    });
  }
  // Drop zones: highlight while a file is dragged over; the file input itself accepts the drop.
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragover"); });
    });
  });
  // Upload forms: show the bytes sent so far on a progress bar, then show the answer.
  // A form's `action` property is shadowed by a control named "action" (our submit buttons are),
  // so the target is read from the attribute.
  document.querySelectorAll("form.upload").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var bar = form.querySelector("progress.upload-progress");
      if (event.defaultPrevented || form.hasAttribute("data-plain-submit")) { return; }
      if (!bar || !window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      var submitter = event.submitter || null;
      var data = new FormData(form);
      if (submitter && submitter.name) { data.append(submitter.name, submitter.value); }
      var request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action") || window.location.href);
      // The server answers a redirect to this request with X-Portal-Location instead, so that the
      // flashed message waits for the page the browser then loads.
      request.setRequestHeader("X-Portal-Navigation", "xhr");
      bar.hidden = false;
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      request.addEventListener("load", function () {
        var next = request.getResponseHeader("X-Portal-Location");
        if (next) {
          window.location.assign(next);
          return;
        }
        document.open();
        document.write(request.responseText);
        document.close();
      });
      request.addEventListener("error", function () {
        // The network failed mid-way: send the form the plain way, with the same button.
        bar.hidden = true;
        form.setAttribute("data-plain-submit", "");
        if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
      });
      request.send(data);
    });
  });
})();
