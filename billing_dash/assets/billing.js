/* Keeps the billing page's URL in step with its controls, so a link reproduces the view and
   Back works: each period or range the user picks is one history entry. */
(function () {
  const PAGE = "/dashboard/billing";  // pages.DASHBOARD_PATH
  let shown = null;      // the query of the view the controls last showed
  let restoring = null;  // the query Back or Forward is putting the controls back to

  /* The filter (pages/billing.py FILTERS: agentId and model lists), the granularity and the stack
     ride along in the query as the API names them: agentId=a&model=m&granularity=week&stackBy=agent. */
  // The Python side's facts, checked against it by tests/integration/test_assets.py.
  const FILTER_PARAMS = ["agentId", "model"];  // filters.AGENT_PARAM, filters.MODEL_PARAM
  const TAG_PREFIX = "tag.";  // filters.TAG_PARAM_PREFIX
  const DEFAULT_PERIOD = "month";  // periods.DEFAULT_PERIOD
  const AUTO = "auto";  // pages/billing.py AUTO

  function queryFor(period, startDate, endDate, filters, granularity, stack) {
    const params = new URLSearchParams();
    params.set("period", period);
    if (period === "custom" && startDate && endDate) {
      params.set("startDate", startDate.slice(0, 10));
      params.set("endDate", endDate.slice(0, 10));
    }
    // agentId, model, then the tag.<key> lists (one key; sorted, so one filter is one URL).
    const tags = Object.keys(filters || {}).filter(function (name) {
      return name.startsWith(TAG_PREFIX);
    }).sort();
    FILTER_PARAMS.concat(tags).forEach(function (name) {
      ((filters || {})[name] || []).forEach(function (value) {
        params.append(name, value);
      });
    });
    if (granularity && granularity !== AUTO) {
      params.set("granularity", granularity);
    }
    if (stack) {
      params.set("stackBy", stack);
    }
    return "?" + params.toString();
  }

  function filtersOf(params) {
    const filters = {};
    FILTER_PARAMS.forEach(function (name) {
      filters[name] = params.getAll(name);
    });
    params.forEach(function (_value, name) {
      if (name.startsWith(TAG_PREFIX)) {
        filters[name] = params.getAll(name);
      }
    });
    return filters;
  }

  function complete(params) {
    return params.has("period") && (params.get("period") !== "custom" ||
                                    (params.has("startDate") && params.has("endDate")));
  }

  /* dcc.Graph draws with window.Plotly when there is one, and otherwise loads Dash's full plotly.js
     (4.8 MB, about 1 s of running it) itself: loaded here, the smaller bundle is the one in use. If it
     cannot be loaded, the graphs still come, with Dash's own. */
  let plotly = null;

  function loadPlotly(src) {
    if (window.Plotly) {
      return Promise.resolve();
    }
    if (plotly === null) {
      plotly = new Promise(function (resolve) {
        const script = document.createElement("script");
        script.src = src;
        script.onload = resolve;
        script.onerror = function () {
          plotly = null;
          resolve();
        };
        document.head.appendChild(script);
      });
    }
    return plotly;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    billing: {
      push_url: function (period, startDate, endDate, filters, granularity, stack) {
        const search = queryFor(period, startDate, endDate, filters, granularity, stack);
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
      /* The first figures of the page mount its graphs (pages/billing.py), once plotly.js has run. */
      mount_graphs: function (drawings, setup, ...mounted) {
        if (mounted.every(Boolean)) {
          throw window.dash_clientside.PreventUpdate;  // draw_figures updates them
        }
        return loadPlotly(setup.plotly).then(function () {
          return setup.graphs.map(function (graph, i) {
            return Object.assign({}, graph, {props: Object.assign({}, graph.props, {figure: drawings[i]})});
          });
        });
      },
      /* A report's figures, as the server made them, for the graphs once mounted. */
      draw_figures: function (drawings) {
        return drawings.slice(0, 2);
      },
      /* The grid rows of a report: what follows its two figures. */
      draw_rows: function (drawings) {
        return drawings.slice(2);
      },
      /* The CSV of what is on screen, from the files the report's callback left in the page
         (written on the server from the exact report, as the API writes them). */
      download_csv: function (clicks, files) {
        const clicked = window.dash_clientside.callback_context.triggered_id;
        if (!files || !clicked || !clicks.some(Boolean)) {
          return window.dash_clientside.no_update;
        }
        const file = files[clicked.section];
        if (file.url) {
          // Too many rows to hold in the page: the API streams them as a download.
          window.location.assign(file.url);
          return window.dash_clientside.no_update;
        }
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
    const period = params.get("period") || DEFAULT_PERIOD;
    const granularity = params.get("granularity") || AUTO;
    const stack = params.get("stackBy") || "";
    if (complete(params)) {
      const target = queryFor(period, params.get("startDate"), params.get("endDate"), filtersOf(params), granularity,
                              stack);
      if (target === shown) {
        return;
      }
      restoring = target;
    }
    window.dash_clientside.set_props("billing-filters", {data: filtersOf(params)});
    window.dash_clientside.set_props("billing-granularity", {value: granularity});
    window.dash_clientside.set_props("billing-stack", {value: stack});
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
