/* Keeps the billing page's URL in step with its controls, so a link reproduces the view and
   Back works: each period or range the user picks is one history entry. */
(function () {
  const PAGE = "/dashboard/billing";
  let shown = null;      // the query of the view the controls last showed
  let restoring = null;  // the query Back or Forward is putting the controls back to

  function queryFor(period, startDate, endDate) {
    const params = new URLSearchParams();
    params.set("period", period);
    if (period === "custom" && startDate && endDate) {
      params.set("startDate", startDate.slice(0, 10));
      params.set("endDate", endDate.slice(0, 10));
    }
    return "?" + params.toString();
  }

  function complete(params) {
    return params.has("period") && (params.get("period") !== "custom" ||
                                    (params.has("startDate") && params.has("endDate")));
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    billing: {
      push_url: function (period, startDate, endDate) {
        const search = queryFor(period, startDate, endDate);
        shown = search;
        if (restoring !== null) {
          // Back sets the controls one at a time: the states in between are not steps.
          if (search !== restoring) {
            return window.dash_clientside.no_update;
          }
          restoring = null;
        }
        if (window.location.search === search) {
          return window.dash_clientside.no_update;
        }
        const url = window.location.pathname + search;
        const current = new URLSearchParams(window.location.search);
        const customClicked = (window.history.state || {}).billingCustomClicked;
        if (!complete(current) || (customClicked && period === "custom")) {
          // Completing a bare link, or the range picked right after clicking Custom: that
          // step's entry gets the range instead of a second entry.
          window.history.replaceState({}, "", url);
        } else {
          window.history.pushState({billingCustomClicked: period === "custom" && current.get("period") !== "custom"},
                                   "", url);
        }
        return window.dash_clientside.no_update;
      },
      /* The figures, grid rows and unpriced-usage banner of a report, as the server made them
         (pages/billing.py). */
      draw: function (drawings) {
        return drawings;
      },
      /* The CSV of what is on screen, from the files the report's callback left in the page
         (written on the server from the exact report, as the API writes them). */
      download_csv: function (clicks, files) {
        const clicked = window.dash_clientside.callback_context.triggered_id;
        if (!files || !clicked || !clicks.some(Boolean)) {
          return window.dash_clientside.no_update;
        }
        const file = files[clicked.section];
        return {content: file.content, filename: file.filename, type: "text/csv"};
      },
    },
  });

  /* Back and Forward: our pushState entries are invisible to Dash's router, so put the
     controls back to what the URL says; the report then follows through the usual callbacks. */
  window.addEventListener("popstate", function () {
    if (window.location.pathname !== PAGE || !window.dash_clientside.set_props) {
      return;
    }
    const params = new URLSearchParams(window.location.search);
    const period = params.get("period") || "month";
    if (complete(params)) {
      const target = queryFor(period, params.get("startDate"), params.get("endDate"));
      if (target === shown) {
        return;
      }
      restoring = target;
    }
    window.dash_clientside.set_props("billing-period", {value: period});
    if (period === "custom" && params.get("startDate") && params.get("endDate")) {
      window.dash_clientside.set_props("billing-dates", {
        start_date: params.get("startDate"),
        end_date: params.get("endDate"),
      });
    }
  });

  /* Dash's renderer drops a callback whose request fails: the page kept the previous numbers
     under the newly chosen period, without a word. Dash has no hook for failed callback
     requests, so watch them here. 401 (logged out in another tab, session expired): reload,
     and the server sends the browser to the login page and back to this view afterwards. Any
     other failure (503 while the database is down, no answer at all): open the alert with its
     "Try again" and hide the numbers, which belong to the period shown before. */
  const fetch = window.fetch.bind(window);

  function failed() {
    if (window.location.pathname === PAGE && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("billing-alert", {is_open: true});
      window.dash_clientside.set_props("billing-invalid", {is_open: false});
      window.dash_clientside.set_props("billing-content", {hidden: true});
    }
  }

  window.fetch = function (resource, options) {
    const answer = fetch(resource, options);
    const url = String(resource instanceof Request ? resource.url : resource);
    if (url.indexOf("/_dash-update-component") === -1) {
      return answer;
    }
    return answer.then(function (response) {
      if (response.status === 401) {
        window.location.reload();
      } else if (!response.ok) {
        failed();
      }
      return response;
    }, function (error) {
      failed();
      throw error;
    });
  };
})();
