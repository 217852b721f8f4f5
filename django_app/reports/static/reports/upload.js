// The upload form posts straight to S3. This script only helps: it sends the file's
// name along (S3 metadata, percent-encoded) and refuses a file over the size limit
// before uploading it. Without it the upload still works, and S3 enforces the limit.
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

  form.addEventListener("submit", function (event) {
    var file = input.files[0];
    if (file && file.size > maxBytes) {
      event.preventDefault();
      error.textContent = "That file is too large to upload.";
      error.hidden = false;
      return;
    }
    document.getElementById("upload-submit").disabled = true;
  });
})();
