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

/* Back and Forward: our pushState entries are invisible to Dash's router, so put the
   controls back to what the URL says; the report then follows through the usual callbacks. */
window.addEventListener("popstate", function () {
  if (window.location.pathname !== "/dashboard/billing" || !window.dash_clientside.set_props) {
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const period = params.get("period") || "month";
  window.dash_clientside.set_props("billing-period", {value: period});
  if (period === "custom" && params.get("startDate") && params.get("endDate")) {
    window.dash_clientside.set_props("billing-dates", {
      start_date: params.get("startDate"),
      end_date: params.get("endDate"),
    });
  }
});
