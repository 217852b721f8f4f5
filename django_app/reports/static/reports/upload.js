// The upload form posts straight to S3. For one file this script only helps: it sends
// the file's name along (S3 metadata, percent-encoded) and refuses an empty file, or one
// over the size limit, before uploading it. Without it the upload still works, S3
// enforces the limits, and the app checks what S3 stored.
//
// For several files (one report over all of them) it does the sending: each file goes to
// S3 with a presigned form of its own (data-several-forms, one per file the page allows),
// then the files' keys go to the app (#several-form), which checks what S3 stored, as for
// one file. S3's answers are not readable from this page (no CORS needed: "no-cors"), so
// the app's check is the only judge of what arrived.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = document.getElementById("upload-file");
  var name = document.getElementById("upload-filename");
  var error = document.getElementById("upload-error");
  var status = document.getElementById("upload-status");
  var submit = document.getElementById("upload-submit");
  var several = document.getElementById("several-form");
  var maxBytes = Number(form.dataset.maxBytes);
  var maxFiles = Number(form.dataset.maxFiles);
  var slots = JSON.parse(form.dataset.severalForms || "[]");

  function show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  input.addEventListener("change", function () {
    var file = input.files[0];
    name.value = file ? encodeURIComponent(file.name) : "";
    show(error, "");
  });

  // S3 itself refuses these (the form's content-length-range), but with a page of XML.
  function problem(files) {
    if (files.length > maxFiles) {
      return "Choose at most " + maxFiles + " files at once; you chose " + files.length + ".";
    }
    var prefix = files.length > 1;
    for (var i = 0; i < files.length; i++) {
      var about = prefix ? files[i].name + ": " : "";
      if (files[i].size === 0) {
        return about + "That file is empty: choose a CSV file with a header line and rows.";
      }
      if (files[i].size > maxBytes) { return about + "That file is too large to upload."; }
    }
    return "";
  }

  function send(slot, file) {
    var data = new FormData();
    Object.keys(slot.fields).forEach(function (field) { data.append(field, slot.fields[field]); });
    data.append("x-amz-meta-filename", encodeURIComponent(file.name));
    data.append("file", file); // last: S3 ignores fields after the file
    return fetch(form.action, { method: "POST", body: data, mode: "no-cors", credentials: "omit" });
  }

  function sendAll(files) {
    show(status, "Uploading " + files.length + " files\u2026");
    Promise.all(files.map(function (file, i) { return send(slots[i], file); }))
      .then(function () {
        files.forEach(function (file, i) {
          var key = document.createElement("input");
          key.type = "hidden";
          key.name = "key";
          key.value = slots[i].key;
          several.appendChild(key);
        });
        show(status, "Checking the files\u2026");
        several.submit();
      })
      .catch(function () {
        show(status, "");
        show(error, "The files could not be uploaded: check your connection and try again.");
        submit.disabled = false;
      });
  }

  form.addEventListener("submit", function (event) {
    var files = Array.prototype.slice.call(input.files);
    var refused = problem(files);
    if (refused) {
      event.preventDefault();
      show(error, refused);
      return;
    }
    submit.disabled = true;
    if (files.length > 1) {
      event.preventDefault();
      sendAll(files);
    }
  });
})();
