/* Swagger UI at /docs, started from the configuration in #swagger-ui-config (no inline
   script) and made to pass WCAG 2.1 AA:
   - each operation's toggle button is named by an aria-label ("get /v1/…") that leaves out
     most of its visible text (method, path and summary), against 2.5.3 (label in name);
     without the attribute its name is the visible text itself;
   - code examples scroll sideways but cannot take focus, so a keyboard cannot scroll them
     (2.1.1): they get tabindex="0". */
(() => {
  'use strict';

  const fix = () => {
    for (const button of document.querySelectorAll('.opblock-summary-control[aria-label]')) {
      button.removeAttribute('aria-label');
    }
    for (const code of document.querySelectorAll('.highlight-code > pre:not([tabindex])')) {
      code.tabIndex = 0;
    }
  };
  // Swagger UI renders (and re-renders) the operations with React after the page has loaded.
  new MutationObserver(fix).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['aria-label'],
  });

  const { override, ...config } = JSON.parse(
    document.getElementById('swagger-ui-config').textContent,
  );
  window.addEventListener('load', () => {
    window.ui = SwaggerUIBundle({ ...config, ...override });
  });
})();
