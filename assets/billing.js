/* Keeps the billing page's URL in step with its controls, so a link reproduces the view and
   Back works: the first state replaces the entry, later choices push new ones. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  billing: {
    push_url: function (period, startDate, endDate) {
      const params = new URLSearchParams();
      params.set("period", period);
      if (period === "custom" && startDate && endDate) {
        params.set("startDate", startDate.slice(0, 10));
        params.set("endDate", endDate.slice(0, 10));
      }
      const search = "?" + params.toString();
      if (window.location.search !== search) {
        const url = window.location.pathname + search;
        const current = new URLSearchParams(window.location.search);
        if (current.has("period")) {
          window.history.pushState({}, "", url);
        } else {
          window.history.replaceState({}, "", url);
        }
      }
      return window.dash_clientside.no_update;
    },
  },
});
