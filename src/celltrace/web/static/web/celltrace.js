// celltrace: the only script besides htmx. No inline script anywhere (strict CSP).
document.addEventListener("DOMContentLoaded", function () {
  document.body.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRFToken"] = document.body.dataset.csrf;
  });
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (evt) {
      if (!window.confirm(el.dataset.confirm)) { evt.preventDefault(); }
    });
  });
});
