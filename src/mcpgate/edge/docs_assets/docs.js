// mcpgate's docs page: Swagger UI for the document named by #ui's data-openapi, sending the API key
// typed in the form (kept in this tab's sessionStorage) with every request, the document's own included.
"use strict";
(function () {
  const KEY = "mcpgate-api-key";
  const ui = document.getElementById("ui");

  function render() {
    SwaggerUIBundle({
      url: ui.dataset.openapi,
      dom_id: "#ui",
      validatorUrl: null, // no badge fetched from a validator on another host
      requestInterceptor: (request) => {
        const key = sessionStorage.getItem(KEY);
        if (key) request.headers["Authorization"] = "Bearer " + key;
        return request;
      },
    });
  }

  document.getElementById("key").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("api-key").value.trim());
    render();
  });
  render();
})();
