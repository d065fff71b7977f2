/*
 * pipewatch notifications panel, under window.dash_clientside.pipewatch_notify.
 *
 * mount    clientside callback (dashboard/notify_panel.py wires it): draws the panel into the
 *          config's root, once, and loads it.
 * changed  clientside callback on the status store: when an alert appears, goes, changes
 *          state or severity, or is acknowledged (what a notification may announce), the panel
 *          reloads; a heartbeat that changes none of these costs a string comparison, no request.
 *
 * The panel keeps its own DOM, like the rules editor (assets/rules.js), and talks to the REST
 * routes with the browser's credentials: GET /api/v1/notifications (the receivers, by kind and
 * redacted target as the API gives them, and the newest deliveries) and, for a page that may
 * act, POST /api/v1/notifications/test. The server decides; every refusal (409 with no
 * receiver, 401, 403) is shown in its words. The paths, limits, refresh intervals and words
 * come from the config; this file formats and sends. Requests go through XMLHttpRequest:
 * assets/pipewatch.js wraps fetch to send a signed-out page to /login, and a 401 on the test
 * button must instead be shown here, with the way to sign in.
 */
(function () {
  "use strict";

  // region helpers ---------------------------------------------------------------------------
  var kit = window.pipewatch_kit;  // assets/kit.js
  var h = kit.h, icon = kit.icon, send = kit.send, refusal = kit.refusal;

  function utcText(iso) {
    var t = Date.parse(iso);
    if (!iso || isNaN(t)) { return "—"; }
    var text = new Date(t).toISOString();
    return text.slice(0, 10) + " " + text.slice(11, 19);
  }

  function signInLink(path) {
    var here = window.location.pathname + window.location.search;
    return h("a", { className: "alert-link pw-notify-sign-in",
                    href: path + "?next=" + encodeURIComponent(here) }, ["Sign in as an operator"]);
  }
  // endregion

  // region the panel -------------------------------------------------------------------------
  function Panel(root, cfg) {
    this.root = root;
    this.cfg = cfg;
    this.timer = null;
    this.loading = false;
    this.again = false;   // a reload asked for while one was in flight
    this.build();
  }

  Panel.prototype.build = function () {
    var cfg = this.cfg, self = this;
    this.summary = h("span", { className: "small text-body-secondary pw-notify-summary" }, ["loading…"]);
    var reload = h("button", { type: "button", className: "btn btn-sm btn-outline-secondary pw-notify-reload",
                               title: "Load the delivery log now", onclick: function () { self.load(); } },
                   [icon("bi-arrow-clockwise"), "Reload"]);
    this.test = cfg.may_test
      ? h("button", { type: "button", className: "btn btn-sm btn-outline-primary pw-notify-test",
                      title: "One test notification to every receiver, now",
                      onclick: function () { self.sendTest(); } },
          [icon("bi-send"), "Send test notification"])
      : null;
    this.message = h("div", { className: "pw-notify-message", role: "status" });
    this.receivers = h("div", { className: "d-flex gap-2 flex-wrap mb-2 pw-notify-receivers" });
    this.body = h("tbody", {});
    this.empty = h("p", { className: "small text-body-secondary mb-0 d-none pw-notify-empty" },
                   [icon("bi-inbox"), "Nothing sent yet."]);
    var heads = ["Written (UTC)", "Event", "Alert", "Receiver", "State", "Attempts",
                 "Last error", "Delivered / next try (UTC)"];
    this.panel = h("div", { className: "pw-notify-panel" }, [
      h("div", { className: "d-flex align-items-center gap-2 flex-wrap mb-2" },
        [this.summary, h("span", { className: "ms-auto" }), reload, this.test]),
      cfg.may_test ? null : h("div", { className: "small text-body-secondary mb-2 pw-notify-read-only" }, [
        icon("bi-eye"), "Sending a test notification needs an operator: " + (cfg.reason || "") + " ",
        cfg.sign_in ? signInLink(cfg.sign_in) : null]),
      this.message,
      h("div", { className: "pw-label mb-1", text: "Receivers" }),
      this.receivers,
      h("div", { className: "pw-label mb-1", text: "Recent deliveries (newest first)" }),
      h("div", { className: "table-responsive pw-notify-scroll" }, [
        h("table", { className: "table table-sm table-hover mb-0 pw-notify-table" }, [
          h("thead", {}, [h("tr", {}, heads.map(function (name) {
            return h("th", { scope: "col", text: name });
          }))]), this.body])]),
      this.empty
    ]);
    this.root.appendChild(this.panel);
  };

  Panel.prototype.say = function (kind, parts) {
    this.message.replaceChildren(h("div", { className: "alert alert-" + kind + " small py-2 mb-2" }, parts));
  };

  Panel.prototype.sayRefusal = function (r, doing) {
    this.say("danger", [
      h("strong", { text: (r.status ? "HTTP " + r.status + " " : "") + (r.code ? r.code + ": " : "") }),
      r.message,
      doing ? " (" + doing + ")" : null,
      r.signIn ? h("div", { className: "mt-1" }, [signInLink(r.signIn)]) : null
    ]);
  };

  // Load the log; then come back in refresh_ms, or pending_refresh_ms while a delivery listed
  // is still pending (its outcome is near: the sender is at it).
  Panel.prototype.load = function () {
    var self = this;
    if (this.loading) { this.again = true; return Promise.resolve(); }
    this.loading = true;
    window.clearTimeout(this.timer);
    return send("GET", this.cfg.list_path + "?limit=" + this.cfg.limit).then(function (answer) {
      self.loading = false;
      var pending = false;
      if (answer.status === 200 && answer.body) {
        pending = self.show(answer.body);
      } else {
        self.sayRefusal(refusal(answer), "the delivery log was not loaded");
      }
      if (self.again) {
        self.again = false;
        self.load();
        return;
      }
      self.timer = window.setTimeout(function () { self.load(); },
                                     pending ? self.cfg.pending_refresh_ms : self.cfg.refresh_ms);
    });
  };

  // Draw a delivery log document; true when one of its deliveries is pending.
  Panel.prototype.show = function (doc) {
    var cfg = this.cfg;
    this.panel.setAttribute("data-loaded", String(Date.now()));
    this.receivers.replaceChildren.apply(this.receivers, doc.receivers.length
      ? doc.receivers.map(function (r) {
          return h("span", { className: "badge text-bg-light border pw-notify-receiver" },
                   [icon(r.kind === "webhook" ? "bi-link-45deg" : r.kind === "alertmanager"
                         ? "bi-bell" : "bi-chat-dots"), r.target]);
        })
      : [h("span", { className: "small text-body-secondary pw-notify-none" }, [
          icon("bi-slash-circle"),
          "No receiver configured: alerts are not sent anywhere (set WEBHOOK_URLS, " +
          "ALERTMANAGER_URLS or APPRISE_URLS)."])]);
    var pending = false;
    this.body.replaceChildren.apply(this.body, doc.items.map(function (d) {
      pending = pending || d.state === "pending";
      var when = d.state === "delivered" ? utcText(d.delivered_at)
               : d.state === "pending" && d.next_attempt_at ? "next " + utcText(d.next_attempt_at) : "—";
      return h("tr", { className: "pw-notify-row pw-notify-" + d.state, "data-id": d.id,
                       "data-state": d.state, "data-event": d.event }, [
        h("td", { className: "text-nowrap", text: utcText(d.created_at) }),
        h("td", { text: cfg.events[d.event] || d.event }),
        h("td", { title: d.alert_key }, [d.alert_id === null ? "test" : "#" + d.alert_id + " ",
                                        d.alert_id === null ? null
                                          : h("code", { className: "small", text: d.alert_key })]),
        h("td", { className: "text-nowrap", text: d.receiver }),
        h("td", {}, [h("span", { className: "badge " + (cfg.state_classes[d.state] || "text-bg-light"),
                                 text: d.state })]),
        h("td", { text: String(d.attempts) }),
        h("td", { className: "small", text: d.last_error
          ? d.last_error + (d.last_status ? " (HTTP " + d.last_status + ")" : "") : "" }),
        h("td", { className: "text-nowrap", text: when })
      ]);
    }));
    this.empty.classList.toggle("d-none", doc.items.length > 0);
    this.summary.textContent = doc.receivers.length + " receiver" + (doc.receivers.length === 1 ? "" : "s") +
      " · " + doc.items.length + " newest deliveries · loaded " + new Date().toISOString().slice(11, 19) + "Z";
    return pending;
  };

  Panel.prototype.sendTest = function () {
    var self = this;
    if (this.test.disabled) { return; }  // one test in flight: a double click sends one
    this.test.disabled = true;
    send("POST", this.cfg.test_path).then(function (answer) {
      self.test.disabled = false;
      if (answer.status === 202 && answer.body) {
        var targets = answer.body.items.map(function (d) { return d.receiver; });
        self.say("success", [icon("bi-send-check"), "Test notification written for " +
          targets.length + " receiver" + (targets.length === 1 ? "" : "s") + " (" +
          targets.join(", ") + "); its delivery shows below."]);
      } else {
        self.sayRefusal(refusal(answer), "no test was sent");
      }
      self.load();
    });
  };
  // endregion

  // Dash calls this once the page is up, with the config; the panel lives on its root node.
  function mount(cfg) {
    var root = cfg && document.getElementById(cfg.root);
    if (!root) { return window.dash_clientside.no_update; }
    if (!root.pipewatchNotify) {
      root.pipewatchNotify = new Panel(root, cfg);
      root.pipewatchNotify.load();
    }
    return "pw-notify pw-notify-mounted";
  }

  // What a notification may announce, from the status: each open alert's id, state, severity
  // and ack. A change reloads the panel (its outbox rows were written with the change).
  function changed(status, current, cfg) {
    var doc = status && status.doc;
    if (!doc) { return window.dash_clientside.no_update; }
    var version = JSON.stringify(doc.alerts.map(function (a) {
      return [a.id, a.state, a.severity, a.ack ? a.ack.at : null];
    }));
    if (version === current) { return window.dash_clientside.no_update; }
    var root = cfg && document.getElementById(cfg.root);
    if (current && root && root.pipewatchNotify) { root.pipewatchNotify.load(); }
    return version;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pipewatch_notify: { mount: mount, changed: changed }
  });
})();
