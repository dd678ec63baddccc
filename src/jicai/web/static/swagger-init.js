// Swagger UI on /docs (templates/apidocs_swagger.html): its settings come from the page's JSON element, so that
// no inline script is needed. "Try it out" calls the API with the page's session cookie; a call that changes
// something carries the session's CSRF token, as the API asks of cookie-authenticated calls.
(function () {
  var config = JSON.parse(document.getElementById("swagger-config").textContent);
  window.ui = SwaggerUIBundle({
    url: config.url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // no badge from the validator's site: the page loads nothing from elsewhere
    presets: [SwaggerUIBundle.presets.apis],  // BaseLayout: no top bar, so no standalone preset
    requestInterceptor: function (req) {
      req.headers["X-CSRF-Token"] = config.csrf;
      return req;
    }
  });
}());
