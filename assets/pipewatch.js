/*
 * pipewatch: the browser half of the live path, under window.dash_clientside.pipewatch.
 *
 * machine     the connection state machine (docs/architecture.md, "The live path in the
 *             browser"). States: connecting -> connected -> reconnecting ->
 *             polling-fallback | disconnected.
 *             It owns the WebSocket's url (reconnecting = changing it, with ?attempt=N and
 *             the config's backoff, with jitter), the poll timer, and the one status store
 *             that every panel reads, whether the status came by push or poll.
 * render      status store -> overall pill, cards, per-source table, anomalies and alerts.
 * paintLayout the first paint: `render` of the status the layout carries in its store, drawn
 *             into the layout as it arrives (Dash runs callbacks only after plotly.js loads).
 * freshness   every second -> connection pill, "updated N s ago", ages, stale marks, banner.
 * dataVersion status store -> a value that changes only when a new hour of metrics exists.
 * report      every `report_s` s while the socket is open: a text frame telling the server the
 *             timestamp of the status shown (metrics: page-seconds by mode, data age). A page
 *             that polls says the same through its poll (the `shown` field of its conn store).
 *
 * Dash calls these as clientside callbacks (dashboard/clientside.py wires them). Everything
 * decided lives on the server: statuses and totals in the status document, timings, panels,
 * words, icons and component ids in the config store (dashboard/pageconfig.py). This file has
 * no defaults of its own: it formats and draws.
 */
(function () {
  "use strict";

  var CONNECTING = 0, OPEN = 1, CLOSED = 3;
  // The browser's own fetch, before the wrapper below sends a 401'd page to sign in: an
  // action's 401 is shown where the person acted, with the sign-in link, not navigated away.
  var baseFetch = window.fetch;

  // region helpers ---------------------------------------------------------------------------
  function noUpdate() { return window.dash_clientside.no_update; }

  function firedIds() {
    var ctx = window.dash_clientside.callback_context || {};
    var fired = {};
    (ctx.triggered || []).forEach(function (t) {
      if (t && t.prop_id && t.prop_id !== ".") { fired[t.prop_id] = true; }
    });
    return fired;
  }

  function el(type, props, children, namespace) {
    var p = Object.assign({}, props || {});
    if (children !== undefined) { p.children = children; }
    return { namespace: namespace || "dash_html_components", type: type, props: p };
  }

  function icon(name) { return el("I", { className: "bi " + name + " me-1", "aria-hidden": "true" }); }

  function preventUpdate() { throw window.dash_clientside.PreventUpdate; }

  function parseTime(iso) {
    if (!iso) { return null; }
    var t = Date.parse(iso);
    return isNaN(t) ? null : t;
  }

  function utcText(ms, withDate) {
    if (ms === null || ms === undefined) { return "—"; }
    var iso = new Date(ms).toISOString();  // always UTC
    return withDate ? iso.slice(0, 10) + " " + iso.slice(11, 16) : iso.slice(11, 19) + "Z";
  }

  function ageText(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) { return "never"; }
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) { return seconds + " s ago"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min ago"; }
    if (seconds < 172800) { return Math.floor(seconds / 3600) + " h ago"; }
    return Math.floor(seconds / 86400) + " d ago";
  }

  function pct(rate) {
    if (rate === null || rate === undefined || isNaN(rate)) { return "—"; }
    return (Math.round(rate * 1000) / 10).toFixed(1) + "%";
  }

  function num(n) { return (n === null || n === undefined) ? "—" : Number(n).toLocaleString("en-US"); }

  function statusWord(status) { return status.charAt(0).toUpperCase() + status.slice(1); }

  function statusBadge(status, cfg) {
    return el("Span", { className: "badge rounded-pill pw-pill pw-status-" + status },
      [icon(cfg.status_icons[status]), statusWord(status)]);
  }
  // endregion

  // region state machine -----------------------------------------------------------------------
  function socketUrl(cfg, attempt) {
    var loc = window.location;
    var scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    var url = scheme + "//" + loc.host + cfg.ws_path;
    return attempt > 0 ? url + "?attempt=" + attempt : url;
  }

  // Delay before reconnect attempt n (1-based): the config's steps, then its cap; +-20 % jitter
  // so a server restart is not met by every page at the same instant. Never above the cap.
  function backoffMs(cfg, attempt) {
    var steps = cfg.backoff_s, cap = cfg.backoff_cap_s;
    var base = attempt <= steps.length ? steps[attempt - 1] : cap;
    var jittered = base * (0.8 + 0.4 * Math.random());
    return Math.round(Math.min(cap, jittered) * 1000);
  }

  function newer(doc, current) {
    if (!current || !current.doc) { return true; }
    return parseTime(doc.timestamp) >= parseTime(current.doc.timestamp);
  }

  var FALLBACK = { "reconnecting": true, "polling-fallback": true, "disconnected": true };

  // THE decision whether the socket is trusted: open, and heard from within the config's
  // silence_ms (which follows the server's heartbeat). The machine drops an untrusted socket
  // and polls at once; freshness greys the live panels on the same test, at the same tick.
  function socketTrusted(c, now, cfg) {
    return c.state === "connected" && now - c.lastMsg <= cfg.silence_ms;
  }

  function machine(wsState, wsMessage, wsError, tick, pollResult, conn, status, cfg, kick) {
    var now = Date.now();
    var fired = firedIds();
    var on = cfg.triggers;
    var c = Object.assign({}, conn || {});
    var out = { url: noUpdate(), pollDisabled: noUpdate(), kick: noUpdate(), status: noUpdate() };
    var before = JSON.stringify(c);

    function pollNow() {
      out.pollDisabled = false;
      out.kick = (kick || 0) + 1;
    }

    function scheduleRetry() {
      c.attempt = (c.attempt || 0) + 1;
      c.retryAt = now + backoffMs(cfg, c.attempt);
      c.connectingSince = null;
      out.url = null;  // close whatever is left; the next attempt sets a fresh url
    }

    function socketLost(reason) {
      c.lastClose = reason;
      if (FALLBACK[c.state]) {   // a reconnect attempt failed: just wait longer
        scheduleRetry();
        return;
      }
      c.state = "reconnecting";
      c.lostAt = now;
      c.pollOkSinceLoss = false;
      scheduleRetry();
      pollNow();               // polling starts at once, not after the first 5 s
    }

    if (!c.started) {
      c = { started: true, state: "connecting", attempt: 0, reconnects: 0, retryAt: null,
            connectingSince: now, lastMsg: null, lastPollOk: null, lostAt: null };
      out.url = socketUrl(cfg, 0);
      out.pollDisabled = true;
      if (status && status.doc && !status.received_at) {
        out.status = Object.assign({}, status, { received_at: now });
      }
    }

    if (fired[on.socket_state] && wsState) {
      if (wsState.readyState === OPEN) {
        if (c.lostAt) { c.reconnects = (c.reconnects || 0) + 1; }
        c.state = "connected";
        c.attempt = 0;
        c.retryAt = null;
        c.connectingSince = null;
        c.lostAt = null;
        c.lastMsg = now;
        c.openedAt = now;
        out.pollDisabled = true;
      } else if (wsState.readyState === CLOSED) {
        socketLost({ code: wsState.code || null, reason: wsState.reason || "", at: now });
      }
    }

    if (fired[on.socket_message] && wsMessage && wsMessage.data) {
      c.lastMsg = now;   // the server sends this page status documents only
      c.dbError = null;
      var doc = JSON.parse(wsMessage.data);
      if (newer(doc, status)) {
        out.status = { doc: doc, received_at: now, via: "socket" };
        c.shown = doc.timestamp;
      }
    }

    if (fired[on.poll_result] && pollResult) {
      c.lastPollOk = now;
      if (FALLBACK[c.state]) { c.state = "polling-fallback"; c.pollOkSinceLoss = true; }
      if (pollResult.ok) {
        c.dbError = null;
        if (newer(pollResult.doc, status)) {
          out.status = { doc: pollResult.doc, received_at: now, via: pollResult.via };
          c.shown = pollResult.doc.timestamp;
        } else if (status && status.doc) {
          out.status = Object.assign({}, status, { received_at: now });
        }
      } else {
        c.dbError = pollResult.error;
      }
    }

    if (fired[on.tick]) {
      if (c.state === "connected" && !socketTrusted(c, now, cfg)) {
        socketLost({ code: null, reason: "no message for " + Math.round((now - c.lastMsg) / 1000) +
                     " s", at: now });
      }
      if (c.connectingSince && c.state !== "connected" &&
          now - c.connectingSince > cfg.connect_timeout_ms) {
        socketLost({ code: null, reason: "connect timeout", at: now });
      }
      if (FALLBACK[c.state] && c.retryAt && now >= c.retryAt && !c.connectingSince) {
        out.url = socketUrl(cfg, c.attempt);
        c.retryAt = null;
        c.connectingSince = now;
      }
      var lastGood = Math.max(c.lastPollOk && c.pollOkSinceLoss ? c.lastPollOk : 0, c.lostAt || 0);
      if (FALLBACK[c.state] && now - lastGood > cfg.disconnect_ms) {
        c.state = "disconnected";
      }
    }

    var changed = JSON.stringify(c) !== before;
    return [out.url, out.pollDisabled, out.kick, changed ? c : noUpdate(), out.status];
  }

  // The page's report on its socket, every cfg.report_s ticks while the socket is open (never
  // while closed: setting `send` then would make the component reconnect behind the machine's
  // back). Each frame's text differs (the tick), so the component sends every one.
  function report(tick, conn, status, cfg, wsState) {
    if (!conn || conn.state !== "connected" || !tick || tick % cfg.report_s !== 0 ||
        (wsState && wsState.readyState !== OPEN)) {
      return noUpdate();
    }
    var shown = status && status.doc ? status.doc.timestamp : null;
    return JSON.stringify({ type: "report", shown: shown, tick: tick });
  }
  // endregion

  // region render (status -> panels) -------------------------------------------------------------
  function sourceRows(doc) {
    return doc.scraping_health.sources.map(function (s) {
      return {
        source: s.source, status: s.status,
        last_run_at: utcText(parseTime(s.last_run_at), true),
        last_success_at: s.last_success_at ? utcText(parseTime(s.last_success_at), true) : "never",
        runs_24h: s.runs_24h, failures_24h: s.failures_24h, items_24h: s.items_24h,
        last_error: s.last_error || ""
      };
    });
  }

  function scrapingCard(health, cfg) {
    return [pct(health.success_rate_24h), statusBadge(health.status, cfg),
            "runs OK in 24 h · " + health.healthy_sources + "/" + health.sources.length +
            " sources healthy · " + num(health.runs_24h) + " runs"];
  }

  function qualityCard(dq, rateKey, okKey, attemptsKey, noun, cfg) {
    return [pct(dq[rateKey]), statusBadge(dq[rateKey + "_status"], cfg),
            num(dq[okKey]) + " of " + num(dq[attemptsKey]) + " " + noun + " · all sources" +
            (dq.basis === "conflicts" ? " · from events (no metrics yet)" : "")];
  }

  function valueText(kind, value) {
    return kind.percent ? pct(value) : num(Math.round(value * 10) / 10);
  }

  // Alert cards: what the lifecycle says, and (on a page that may act) the buttons.
  function alertButton(cfg, alert, action, words, iconName, style, title) {
    return el("Button", {
      id: { type: cfg.acting.button_type, action: action, alert: alert.id },
      className: "btn btn-sm " + style + " pw-alert-" + action, type: "button", title: title
    }, [icon(iconName), words]);
  }

  // The lifecycle as the document states it: state, since when, flapping, the ack and the
  // silence. Nothing here is decided: each line is a field of the alert, formatted.
  function alertLines(a, cfg) {
    var lines = [];
    var state = el("Span", { className: "badge pw-state pw-state-" + a.state },
                   cfg.acting.state_words[a.state]);
    var fired = a.state === "firing"
      ? "fired " + utcText(parseTime(a.fired_at), true) + " UTC"
      : "not fired yet";
    lines.push(el("Div", { className: "small mt-1 d-flex gap-2 align-items-center flex-wrap" }, [
      state, el("Span", { className: "text-body-secondary" }, fired),
      a.flapping ? el("Span", { className: "badge text-bg-warning pw-flapping",
                                title: "changed state many times in the last hour" },
                      [icon("bi-shuffle"), "flapping"]) : null
    ]));
    if (a.ack) {
      lines.push(el("Div", { className: "small mt-1 pw-ack" }, [
        icon("bi-person-check"),
        "Acknowledged by " + a.ack.by + " at " + utcText(parseTime(a.ack.at), true) + " UTC" +
        (a.ack.note ? ": " + a.ack.note : "")]));
    }
    if (a.silenced) {
      lines.push(el("Div", { className: "small mt-1 pw-silence-note" }, [
        icon("bi-bell-slash"),
        "Silenced until " + utcText(parseTime(a.silenced.until), true) + " UTC by " +
        a.silenced.by + ": " + a.silenced.comment]));
    }
    if (cfg.acting.allowed) {
      lines.push(el("Div", { className: "mt-2 d-flex gap-2 flex-wrap pw-alert-actions" }, [
        a.ack ? alertButton(cfg, a, "unack", "Take ack back", "bi-arrow-counterclockwise",
                            "btn-outline-secondary")
              : alertButton(cfg, a, "ack", "Acknowledge…", "bi-person-check", "btn-outline-primary"),
        a.silenced ? alertButton(cfg, a, "unsilence", "End silence", "bi-bell",
                                 "btn-outline-secondary", "Ends silence #" + a.silenced.id +
                                 " now, for every alert it covers")
                   : alertButton(cfg, a, "silence", "Silence…", "bi-bell-slash",
                                 "btn-outline-secondary")
      ]));
    }
    return lines;
  }

  function issueItems(doc, cfg) {
    var items = [];
    doc.alerts.forEach(function (a) {
      items.push({ at: parseTime(a.since), severity: a.severity, kind: "Alert",
                   title: a.title, source: a.source, text: a.message, alert: a });
    });
    doc.anomalies.forEach(function (a) {
      var kind = cfg.anomaly_kinds[a.kind];
      items.push({ at: parseTime(a.detected_at), severity: a.severity, kind: "Anomaly",
                   title: kind.label, source: a.source,
                   text: "value " + valueText(kind, a.value) + ", expected about " +
                         valueText(kind, a.baseline) + " (score " + Number(a.score).toFixed(1) + ")" });
    });
    items.sort(function (x, y) { return (y.at || 0) - (x.at || 0); });
    if (!items.length) {
      return el("P", { className: "text-body-secondary mb-0 pw-empty" },
                [icon("bi-check2-circle"), "No anomalies or alerts."]);
    }
    var now = Date.now();
    return el("Ul", { className: "list-unstyled mb-0 pw-issues-list" }, items.map(function (it) {
      var silenced = it.alert && it.alert.silenced;
      return el("Li", {
        className: "pw-issue pw-issue-" + it.severity + (silenced ? " pw-silenced" : ""),
        "data-alert": it.alert ? String(it.alert.id) : undefined
      }, [
        el("Div", { className: "d-flex align-items-center gap-2 flex-wrap" }, [
          statusBadge(it.severity, cfg),
          el("Span", { className: "badge text-bg-light border" }, it.kind),
          el("Strong", {}, it.title),
          it.source ? el("Span", { className: "badge text-bg-light border pw-source" },
                         [icon("bi-newspaper"), it.source]) : null,
          el("Span", { className: "ms-auto small text-body-secondary" },
             "since " + utcText(it.at, true) + " UTC (" + ageText((now - it.at) / 1000) + ")")
        ]),
        el("Div", { className: "small mt-1" }, it.text)
      ].concat(it.alert ? alertLines(it.alert, cfg) : []));
    }));
  }

  function render(status, cfg) {
    var doc = status && status.doc;
    if (!doc) { preventUpdate(); }  // the layout had no status (database down): shells stay
    var overall = doc.overall_status;
    var dq = doc.data_quality;
    return [
      [icon(cfg.status_icons[overall]), "Pipeline " + statusWord(overall)],
      "badge rounded-pill pw-pill pw-status-" + overall
    ].concat(scrapingCard(doc.scraping_health, cfg))
     .concat(qualityCard(dq, "geocoding_success_rate", "geocoding_successes",
                         "geocoding_attempts", "geocoded", cfg))
     .concat(qualityCard(dq, "validation_pass_rate", "validation_passes",
                         "validation_attempts", "passed", cfg))
     .concat([sourceRows(doc), issueItems(doc, cfg)]);
  }
  // endregion

  // region freshness (every second) ---------------------------------------------------------------
  function healthBody(c, doc, now, cfg) {
    var spec = cfg.connection_states[c.state];
    var rows = [
      ["Connection", spec.method + " · " + spec.label],
      ["Reconnect attempts", (c.attempt || 0) + " now · " + (c.reconnects || 0) + " reconnections" +
        (c.retryAt ? " · next in " + Math.max(0, Math.ceil((c.retryAt - now) / 1000)) + " s" : "")]
    ];
    if (c.lastClose) {
      rows.push(["Last socket close", (c.lastClose.code ? "code " + c.lastClose.code + " " : "") +
                 c.lastClose.reason + " · " + ageText((now - c.lastClose.at) / 1000)]);
    }
    var fresh = doc ? doc.freshness : {};
    [["Events", "latest_conflict_at"], ["Metrics", "latest_metric_at"],
     ["Scrape runs", "latest_scrape_at"], ["Forecasts", "latest_forecast_at"]].forEach(function (p) {
      var t = parseTime(fresh[p[1]]);
      rows.push([p[0] + " (newest)", t ? utcText(t, true) + " UTC · " + ageText((now - t) / 1000) : "none yet"]);
    });
    rows.push(["Pipeline", doc ? statusBadge(doc.overall_status, cfg) : "waiting for data"]);
    return el("Dl", { className: "row mb-0 pw-health-list" }, [].concat.apply([], rows.map(function (r) {
      return [el("Dt", { className: "col-5 fw-normal text-body-secondary" }, r[0]),
              el("Dd", { className: "col-7 mb-1" }, r[1])];
    })));
  }

  // Live numbers are current while the socket is trusted; without it, only numbers received
  // since the socket was lost (a poll's) and younger than poll_stale_ms are. So the live panels
  // grey exactly when the machine stops trusting the socket (and starts polling), and clear
  // when a poll answers.
  function liveStale(c, received, now, cfg) {
    if (c.state === "disconnected" || !received) { return true; }
    if (c.state === "connected") { return !socketTrusted(c, now, cfg); }
    return received < (c.lostAt || 0) || now - received > cfg.poll_stale_ms;
  }

  function freshness(tick, conn, status, cfg) {
    var now = Date.now();
    var c = Object.assign({ state: "connecting" }, conn);
    var doc = status && status.doc;
    // Before the machine's first run, the layout's document is as old as its timestamp.
    var received = doc ? (status.received_at || parseTime(doc.timestamp)) : null;
    var spec = cfg.connection_states[c.state];
    var disconnected = c.state === "disconnected";
    var liveAge = received ? (now - received) / 1000 : null;
    var stale = { live: liveStale(c, received, now, cfg) };
    var metricsAt = doc ? parseTime(doc.data_quality.as_of) : null;
    var metricsAge = metricsAt ? now - metricsAt : null;
    stale.metrics = stale.live || metricsAge === null || metricsAge > cfg.metrics_stale_ms;

    var updated = received ? "updated " + ageText(liveAge) + " · via " + status.via
                           : "waiting for data";
    var banner = null;
    if (disconnected) {
      banner = el("Div", { className: "alert alert-danger d-flex align-items-center mb-3", role: "alert" }, [
        icon("bi-wifi-off"),
        "The server does not answer (socket and HTTP). Showing the last numbers received" +
        (received ? " " + ageText(liveAge) : "") + ", marked stale. Retrying by itself."]);
    } else if (c.dbError) {
      banner = el("Div", { className: "alert alert-warning d-flex align-items-center mb-3", role: "alert" },
                  [icon("bi-database-exclamation"), c.dbError]);
    }
    var asOf = {
      live: received ? "as of " + utcText(received) + " · " + ageText(liveAge) : "no data yet",
      metrics: metricsAt ? "metrics as of " + utcText(metricsAt, true) + " UTC · " +
                           ageText(metricsAge / 1000) : "no metrics yet"
    };
    return [
      [icon(spec.icon), spec.label],
      "badge rounded-pill pw-pill pw-conn pw-conn-" + c.state + " pw-status-" + spec.status,
      updated,
      healthBody(c, doc, now, cfg),
      banner
    ].concat(cfg.panels.map(function (p) {
      return "pw-panel h-100" + (stale[p.cadence] ? " pw-stale" : "");
    })).concat(cfg.panels.map(function (p) { return asOf[p.cadence]; }));
  }
  // endregion

  // The clock hour of the newest metric row ("2026-11-25T21"): charts draw hourly rows, so they
  // refetch when a new hour exists, not at every collector cycle. Mirrors layout.data_version.
  function dataVersion(status, current) {
    var doc = status && status.doc;
    var latest = doc ? doc.freshness.latest_metric_at : null;
    var version = latest ? latest.slice(0, 13) : null;
    return version === current || version === null ? noUpdate() : version;
  }

  function customBox(rangeValue) {
    return rangeValue === "custom" ? {} : { display: "none" };
  }

  // region acting on alerts (the card buttons and the dialog) ---------------------------------
  // The page acts through the REST routes with the browser's credentials; the server decides
  // whether it may (api.auth.require_operator) and whether the body is right. Every answer
  // that is not a success is shown as the API gave it: status, code, message, each problem.
  function apiProblem(status, body) {
    var error = body && body.error;
    if (!error) {
      return { status: status, code: null, problems: [], signIn: null,
               message: status ? "HTTP " + status + ", not the API's JSON answer"
                               : "the server did not answer" };
    }
    var details = error.details || {};
    return { status: status, code: error.code, message: error.message,
             problems: details.problems || [],
             signIn: typeof details.sign_in === "string" ? details.sign_in : null };
  }

  function problemView(problem) {
    var here = window.location.pathname + window.location.search;
    return el("Div", { className: "alert alert-danger small py-2 mb-0 mt-2 pw-act-problem" }, [
      el("Strong", {}, (problem.status ? "HTTP " + problem.status + " " : "") +
                       (problem.code ? problem.code + ": " : "")),
      problem.message,
      problem.problems.length ? el("Ul", { className: "mb-0 mt-1" }, problem.problems.map(function (p) {
        return el("Li", {}, [el("Code", {}, p.path), " " + p.message]);
      })) : null,
      problem.signIn && problem.signIn.charAt(0) === "/" && problem.signIn.charAt(1) !== "/"
        ? el("Div", { className: "mt-1" }, el("A", {
            href: problem.signIn + "?next=" + encodeURIComponent(here), className: "alert-link"
          }, "Sign in as an operator")) : null
    ]);
  }

  // One request: resolves to {ok: true, body} or {ok: false, problem}; never rejects.
  function send(method, path, body) {
    sending = true;
    var init = { method: method, credentials: "same-origin",
                 headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return baseFetch.call(window, path, init).then(function (response) {
      return response.json().then(function (json) { return json; }, function () { return null; })
        .then(function (json) {
          sending = false;
          return response.ok ? { ok: true, body: json }
                             : { ok: false, problem: apiProblem(response.status, json) };
        });
    }, function () {
      sending = false;
      return { ok: false, problem: apiProblem(0, null) };
    });
  }

  function pathFor(template, id) { return template.replace("{id}", encodeURIComponent(id)); }

  // A silence's end: now plus the chosen length, or the chosen time read as UTC (the page's
  // times are UTC). The API judges it (in the future, after the start) and says so if not.
  function silenceEnd(cfg, choice, until) {
    if (choice === cfg.acting.until) {
      if (!until) { return undefined; }
      return (until.length === 16 ? until + ":00" : until) + "Z";
    }
    return new Date(Date.now() + cfg.acting.silence_choices[choice].seconds * 1000).toISOString();
  }

  function feedback(text, iconName) {
    return el("Div", { className: "alert alert-success small py-1 px-2 mb-2 pw-act-done" },
              [icon(iconName), text]);
  }

  // The outputs of `act`, in dashboard/clientside.py's order.
  var IS_OPEN = 0, TARGET = 1, TITLE = 2, ACK_FORM = 3, SILENCE_FORM = 4, ERROR = 5,
      FEEDBACK = 6, SUBMIT = 7, NOTE = 8, COMMENT = 9, ACTOR = 10, DIALOG_OUTPUTS = 11;

  // "Your name" lives under the config's localStorage key, shared with the rules panel
  // (assets/rules.js): a name given in either form is offered in both.
  function remembered(key) {
    try { return window.localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  function remember(key, value) {
    try {
      if (value) { window.localStorage.setItem(key, value); }
    } catch (e) { /* storage refused (private mode): the name is simply not remembered */ }
  }

  var sending = false;  // one action in flight: a double click must not silence twice

  function act(_buttons, _submit, _cancel, target, actor, note, choice, until, comment, status, cfg) {
    var ctx = window.dash_clientside.callback_context || {};
    var trigger = ctx.triggered_id;
    var value = ((ctx.triggered || [])[0] || {}).value;
    var acting = cfg.acting;
    var out = [];
    for (var i = 0; i < DIALOG_OUTPUTS; i++) { out.push(noUpdate()); }
    var shown = {}, hidden = { display: "none" };

    if (trigger === acting.cancel) {
      out[IS_OPEN] = false;
      return out;
    }
    if (sending) { preventUpdate(); }
    if (trigger === acting.submit) {
      if (!target || !value) { preventUpdate(); }
      remember(acting.operator_key, (actor || "").trim());
      var request = target.action === "ack"
        ? send("POST", pathFor(acting.ack_path, target.alert), { by: actor || "", note: note || "" })
        : send("POST", acting.silences_path, {
            matchers: { key: target.key }, ends_at: silenceEnd(cfg, choice, until),
            created_by: actor || "", comment: comment || "" });
      return request.then(function (answer) {
        if (!answer.ok) {
          out[ERROR] = problemView(answer.problem);
          return out;
        }
        out[IS_OPEN] = false;
        out[ERROR] = null;
        var body = answer.body || {};
        out[FEEDBACK] = target.action === "ack"
          ? feedback("Acknowledged “" + target.title + "”" + (body.ack ? " as " + body.ack.by : "") +
                     ".", "bi-person-check")
          : feedback("Silenced “" + target.title + "”" + (body.ends_at ? " until " +
                     utcText(parseTime(body.ends_at), true) + " UTC" : "") + ".", "bi-bell-slash");
        return out;
      });
    }
    // A card's button. Dash also calls this when cards are redrawn (no click): ignore those.
    if (!trigger || trigger.type !== acting.button_type || !value) { preventUpdate(); }
    var doc = status && status.doc;
    var alert = doc ? doc.alerts.filter(function (a) { return a.id === trigger.alert; })[0] : null;
    if (!alert) { preventUpdate(); }
    if (trigger.action === "ack" || trigger.action === "silence") {
      var ack = trigger.action === "ack";
      out[IS_OPEN] = true;
      out[TARGET] = { action: trigger.action, alert: alert.id, key: alert.key, title: alert.title };
      out[TITLE] = (ack ? "Acknowledge: " : "Silence: ") + alert.title;
      out[ACK_FORM] = ack ? shown : hidden;
      out[SILENCE_FORM] = ack ? hidden : shown;
      out[ERROR] = null;
      out[SUBMIT] = ack ? "Acknowledge" : "Silence";
      out[NOTE] = "";
      out[COMMENT] = "";
      out[ACTOR] = remembered(acting.operator_key) || actor || "";
      return out;
    }
    var undo = trigger.action === "unack"
      ? send("DELETE", pathFor(acting.ack_path, alert.id))
      : send("DELETE", pathFor(acting.silence_path, alert.silenced ? alert.silenced.id : ""));
    return undo.then(function (answer) {
      var unack = trigger.action === "unack";
      out[FEEDBACK] = answer.ok
        ? feedback((unack ? "Took the ack back from “" : "Ended the silence of “") + alert.title + "”.",
                   unack ? "bi-arrow-counterclockwise" : "bi-bell")
        : problemView(answer.problem);
      return out;
    });
  }

  // The time field of a silence shows only when "until…" is chosen.
  function untilBox(choice, cfg) {
    return choice === cfg.acting.until ? {} : { display: "none" };
  }

  // Changes when an open alert appears, goes, or changes state or severity: the history panel
  // reloads then (a transition was stored), not at every heartbeat.
  function alertsVersion(status, current) {
    var doc = status && status.doc;
    if (!doc) { return noUpdate(); }
    var version = JSON.stringify(doc.alerts.map(function (a) { return [a.id, a.state, a.severity]; }));
    return version === current ? noUpdate() : version;
  }
  // endregion

  // region first paint -----------------------------------------------------------------------
  // Dash draws the layout as soon as it arrives, but runs no callback until the page's lazy
  // components (plotly.js) have loaded, about a second later. The layout carries the current
  // status in the status store, so `render` draws it into the layout's props right away, on
  // its way from the server to Dash: the first paint and every later one share one renderer.
  function indexLayout(node, byId) {
    if (Array.isArray(node)) {
      node.forEach(function (child) { indexLayout(child, byId); });
    } else if (node && typeof node === "object" && node.props && node.type) {
      if (typeof node.props.id === "string") { byId[node.props.id] = node; }
      Object.keys(node.props).forEach(function (key) {
        if (key !== "data") { indexLayout(node.props[key], byId); }
      });
    }
  }

  function paintLayout(layout) {
    var byId = {};
    indexLayout(layout, byId);
    var cfg = null;
    Object.keys(byId).forEach(function (id) {
      var data = byId[id].props.data;
      if (byId[id].type === "Store" && data && data.first_paint) { cfg = data; }
    });
    var status = byId[cfg.first_paint.status_store].props.data;
    if (!status || !status.doc) { return layout; }  // no status (database down): shells stay
    var drawn = render(status, cfg);
    cfg.first_paint.outputs.forEach(function (target, i) {
      byId[target[0]].props[target[1]] = drawn[i];
    });
    return layout;
  }

  function isLayout(response) {
    return response.ok && /\/_dash-layout$/.test(new URL(response.url, window.location.href).pathname);
  }

  function withFirstPaint(response) {
    return response.json().then(function (layout) {
      return new Response(JSON.stringify(paintLayout(layout)), {
        status: response.status, statusText: response.statusText,
        headers: { "Content-Type": "application/json" }
      });
    });
  }
  // endregion

  // region signed out under an open page -------------------------------------------------------
  // When the read token changes (or the sign-in cookie is cleared), every request of an open
  // page gets the server's 401, whose details name the sign-in page: go there once, coming back
  // to this view afterwards, rather than showing "Disconnected" for a reason nobody can see.
  var leaving = false;
  function signInAgain(response) {
    if (leaving || response.status !== 401 || !response.url ||
        new URL(response.url, window.location.href).origin !== window.location.origin) {
      return;
    }
    response.clone().json().then(function (body) {
      var signIn = body && body.error && body.error.details && body.error.details.sign_in;
      if (typeof signIn !== "string" || signIn.charAt(0) !== "/" || signIn.charAt(1) === "/" ||
          leaving) {
        return;
      }
      leaving = true;
      var here = window.location.pathname + window.location.search;
      window.location.assign(signIn + "?next=" + encodeURIComponent(here));
    }, function () { /* not the API's JSON: nothing to do */ });
  }

  if (typeof window.fetch === "function" && !window.fetch.pipewatchWrapped) {
    var plainFetch = window.fetch;
    var wrapped = function () {
      return plainFetch.apply(window, arguments).then(function (response) {
        signInAgain(response);
        return isLayout(response) ? withFirstPaint(response) : response;
      });
    };
    wrapped.pipewatchWrapped = true;
    window.fetch = wrapped;
  }
  // endregion

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pipewatch: {
      machine: machine, render: render, freshness: freshness, dataVersion: dataVersion,
      paintLayout: paintLayout, report: report,
      customBox: customBox, act: act, untilBox: untilBox, alertsVersion: alertsVersion,
      _backoffMs: backoffMs, _socketUrl: socketUrl
    }
  });
})();
