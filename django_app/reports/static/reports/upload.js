// The upload form posts straight to S3. This script only helps: it sends the file's
// name along (S3 metadata, percent-encoded) and refuses an empty file, or one over the
// size limit, before uploading it. Without it the upload still works, S3 enforces the
// limits, and the app checks what S3 stored.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = document.getElementById("upload-file");
  var name = document.getElementById("upload-filename");
  var error = document.getElementById("upload-error");
  var maxBytes = Number(form.dataset.maxBytes);

  input.addEventListener("change", function () {
    var file = input.files[0];
    name.value = file ? encodeURIComponent(file.name) : "";
    error.hidden = true;
  });

  // S3 itself refuses both (the form's content-length-range), but with a page of XML.
  function problem(file) {
    if (!file) { return ""; }
    if (file.size === 0) { return "That file is empty: choose a CSV file with a header line and rows."; }
    if (file.size > maxBytes) { return "That file is too large to upload."; }
    return "";
  }

  form.addEventListener("submit", function (event) {
    var refused = problem(input.files[0]);
    if (refused) {
      event.preventDefault();
      error.textContent = refused;
      error.hidden = false;
      return;
    }
    document.getElementById("upload-submit").disabled = true;
  });
})();
