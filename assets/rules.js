/*
 * pipewatch alert rules editor, under window.dash_clientside.pipewatch_rules.
 *
 * mount   the one clientside callback (dashboard/rules_panel.py wires it): draws the editor
 *         into the config's root, once, and loads the rules and their recent changes.
 *
 * The editor keeps its own DOM (unsaved rows, typed numbers, the server's problems beside the
 * fields they name), so no Dash callback ever renders into its root. It talks to the REST
 * routes like any client: GET /api/v1/rules (and its ETag), PUT /api/v1/rules with If-Match,
 * GET /api/v1/rules/changes. The server decides: what is valid (every problem comes back in
 * details.problems, with paths such as `rules[2].healthy_rate`), whether the rules changed
 * meanwhile (412), who may change them (401, 403). This file formats and sends; the columns,
 * words, paths and the localStorage key come from the config (dashboard/rules_panel.py).
 *
 * Requests go through XMLHttpRequest, not fetch: assets/pipewatch.js wraps fetch so that a
 * page whose sign-in expired goes to /login; a 401 on Save must instead be shown here, with
 * the edits still on the page.
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
    return text.slice(0, 10) + " " + text.slice(11, 16) + " UTC";
  }

  // 7200 -> "2 h": a duration as a person reads it, beside the seconds the API speaks.
  function duration(seconds) {
    var units = [[86400, "d"], [3600, "h"], [60, "min"]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][0] && seconds % units[i][0] === 0) { return seconds / units[i][0] + " " + units[i][1]; }
    }
    return seconds + " s";
  }

  function remembered(key) {
    try { return window.localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  function remember(key, value) {
    try {
      if (value) { window.localStorage.setItem(key, value); }
    } catch (e) { /* storage refused (private mode): the name is simply not remembered */ }
  }
  // endregion

  // region the editor ------------------------------------------------------------------------
  function Editor(root, cfg) {
    this.root = root;
    this.cfg = cfg;
    this.rows = [];          // in table order: [{tr, inputs: {name: input}, feedback: {name: div}, rowFeedback}]
    this.etag = null;
    this.olderQuery = null;  // the changes page after the last one listed
    this.build();
  }

  Editor.prototype.build = function () {
    var cfg = this.cfg, self = this;
    this.summary = h("span", { className: "small text-body-secondary pw-rules-summary" }, ["loading…"]);
    this.unsaved = h("span", { className: "badge text-bg-warning pw-rules-unsaved d-none" },
                     ["unsaved changes"]);
    var reload = h("button", { type: "button", className: "btn btn-sm btn-outline-secondary pw-rules-reload",
                               title: "Show the stored rules again (unsaved edits are dropped)",
                               onclick: function () { self.load(); } },
                   [icon("bi-arrow-clockwise"), "Reload"]);
    this.message = h("div", { className: "pw-rules-message", role: "status" });

    var head = [h("th", { scope: "col", text: "Source" }), h("th", { scope: "col", text: "Kind" })];
    cfg.settings.forEach(function (s) {
      head.push(h("th", { scope: "col", "data-setting": s.name }, [
        s.label, h("div", { className: "pw-rules-unit", text: s.unit }),
        s.kinds.length ? h("div", { className: "pw-rules-unit", text: "judges " + s.kinds.join(", ") })
                       : h("div", { className: "pw-rules-unit", text: "every kind" })
      ]));
    });
    head.push(h("th", { scope: "col" }, [h("span", { className: "visually-hidden", text: "Remove" })]));
    this.defaultsRow = h("tr", { className: "pw-rules-defaults" });
    this.body = h("tbody", {}, [this.defaultsRow]);
    this.sources = h("datalist", { id: cfg.root + "-sources" }, cfg.sources.map(function (name) {
      return h("option", { value: name });
    }));
    this.tableProblems = h("ul", { className: "pw-rules-table-problems text-danger small mb-2" });

    this.by = h("input", { type: "text", className: "form-control form-control-sm pw-rules-by",
                           maxlength: cfg.by_max, autocomplete: "name", "aria-label": "Your name",
                           placeholder: "who changes them" });
    this.by.value = remembered(cfg.operator_key);
    this.by.addEventListener("change", function () { remember(cfg.operator_key, self.by.value.trim()); });
    this.byFeedback = h("div", { className: "invalid-feedback" });
    this.comment = h("input", { type: "text", className: "form-control form-control-sm pw-rules-comment",
                                maxlength: cfg.comment_max, "aria-label": "Comment",
                                placeholder: "why (kept in the change log)" });
    this.commentFeedback = h("div", { className: "invalid-feedback" });
    this.save = h("button", { type: "button", className: "btn btn-sm btn-primary pw-rules-save",
                              onclick: function () { self.submit(); } }, [icon("bi-check2"), "Save rules"]);

    this.changes = h("ul", { className: "list-unstyled mb-0 pw-rules-changes" });
    this.older = h("button", { type: "button", className: "btn btn-sm btn-link px-0 d-none pw-rules-older",
                               onclick: function () { self.loadChanges(true); } }, ["Older changes"]);

    this.editor = h("div", { className: "pw-rules-editor" }, [
      h("div", { className: "d-flex align-items-center gap-2 flex-wrap mb-2" },
        [this.summary, this.unsaved, h("span", { className: "ms-auto" }), reload]),
      this.message,
      h("p", { className: "small text-body-secondary mb-1",
               text: "Blank means inherited: from a rule for the same source (any kind), then a " +
                     "rule for the kind (any source), then the defaults. The most specific rule wins." }),
      h("div", { className: "table-responsive" }, [
        h("table", { className: "table table-sm align-top pw-rules-table mb-1" }, [
          h("thead", {}, [h("tr", {}, head)]), this.body])]),
      this.sources,
      this.tableProblems,
      h("button", { type: "button", className: "btn btn-sm btn-outline-primary mb-3 pw-rules-add",
                    onclick: function () { self.addRow(null, true); } }, [icon("bi-plus-lg"), "Add rule"]),
      h("div", { className: "row g-2 align-items-start mb-3" }, [
        h("div", { className: "col-md-3" }, [h("label", { className: "pw-label", text: "Your name" }),
                                            this.by, this.byFeedback]),
        h("div", { className: "col-md-6" }, [h("label", { className: "pw-label", text: "Comment" }),
                                            this.comment, this.commentFeedback]),
        h("div", { className: "col-md-3" }, [h("label", { className: "pw-label d-block", text: "\u00a0" }),
                                            this.save])
      ]),
      h("div", { className: "pw-label mb-1", text: "Recent changes" }),
      this.changes,
      this.older
    ]);
    this.editor.addEventListener("input", function (event) {
      if (event.target !== self.by) { self.setDirty(true); }
    });
    this.root.appendChild(this.editor);
  };

  Editor.prototype.setDirty = function (dirty) {
    this.unsaved.classList.toggle("d-none", !dirty);
  };

  Editor.prototype.say = function (kind, parts) {
    this.message.replaceChildren(h("div", { className: "alert alert-" + kind + " small py-2 mb-2" }, parts));
  };

  // A refusal as the API gave it, plainly: who may act, or what went wrong.
  Editor.prototype.sayRefusal = function (r, doing) {
    var here = window.location.pathname + window.location.search;
    var lead = r.status === 401 ? "Not signed in as an operator: the rules were not " + doing + ". "
             : r.status === 403 ? "Not allowed to change the rules: "
             : "The rules were not " + doing + ": ";
    this.say("danger", [
      h("strong", { text: (r.status ? "HTTP " + r.status + " " : "") + (r.code ? r.code : "") }),
      " " + lead + r.message,
      r.signIn ? h("div", { className: "mt-1" }, [h("a", {
        className: "alert-link pw-rules-sign-in", href: r.signIn + "?next=" + encodeURIComponent(here)
      }, ["Sign in as an operator"])]) : null
    ]);
  };

  Editor.prototype.load = function () {
    var self = this;
    return send("GET", this.cfg.rules_path).then(function (answer) {
      if (answer.status !== 200) {
        self.sayRefusal(refusal(answer), "loaded");
        return;
      }
      self.show(answer.body, answer.etag);
      self.message.replaceChildren();
      self.loadChanges(false);
    });
  };

  // Draw a rules document (GET's, or PUT's answer) and remember its ETag for If-Match.
  Editor.prototype.show = function (doc, etag) {
    var cfg = this.cfg, self = this;
    this.etag = etag || ('"' + doc.version + '"');
    this.editor.setAttribute("data-version", String(doc.version));
    this.summary.textContent = "Version " + doc.version + " · " +
      (doc.updated_by ? "last changed by " + doc.updated_by + " at " + utcText(doc.updated_at)
                      : "never changed: the defaults apply everywhere");
    this.defaultsRow.replaceChildren.apply(this.defaultsRow, [
      h("td", { className: "fw-semibold", text: "Defaults" }), h("td", { text: "environment settings" })
    ].concat(cfg.settings.map(function (s) {
      var value = doc.defaults[s.name];
      return h("td", { "data-setting": s.name }, [String(value),
        s.seconds && value >= 60 ? h("span", { className: "pw-rules-unit", text: " (" + duration(value) + ")" }) : null]);
    })).concat([h("td")]));
    this.rows.forEach(function (row) { row.tr.remove(); });
    this.rows = [];
    doc.rules.forEach(function (rule) { self.addRow(rule, false); });
    this.clearProblems();
    this.setDirty(false);
  };

  function cell(input, extra) {
    var feedback = h("div", { className: "invalid-feedback" });
    return { td: h("td", {}, [input].concat(extra || []).concat([feedback])), feedback: feedback };
  }

  Editor.prototype.addRow = function (rule, focus) {
    var cfg = this.cfg, self = this;
    rule = rule || {};
    var row = { inputs: {}, feedback: {} };
    var source = h("input", { type: "text", className: "form-control form-control-sm pw-rule-source",
                              list: cfg.root + "-sources", placeholder: cfg.any_source,
                              "aria-label": "Source" });
    source.value = rule.source || "";
    var kind = h("select", { className: "form-select form-select-sm pw-rule-kind", "aria-label": "Kind" },
      [h("option", { value: "", text: cfg.any_kind })].concat(cfg.kinds.map(function (k) {
        return h("option", { value: k.value, text: k.label });
      })));
    kind.value = rule.kind || "";
    row.inputs.source = source;
    row.inputs.kind = kind;
    var cells = [cell(source), cell(kind)];
    row.feedback.source = cells[0].feedback;
    row.feedback.kind = cells[1].feedback;
    cfg.settings.forEach(function (s) {
      var input = h("input", { type: "number", step: s.step, placeholder: "inherited",
                               className: "form-control form-control-sm pw-rule-setting",
                               "data-setting": s.name, "aria-label": s.label });
      var value = rule[s.name];
      input.value = value === null || value === undefined ? "" : String(value);
      var c = cell(input);
      row.inputs[s.name] = input;
      row.feedback[s.name] = c.feedback;
      cells.push(c);
    });
    row.rowFeedback = h("div", { className: "invalid-feedback pw-rule-problem" });
    var remove = h("button", { type: "button", className: "btn btn-sm btn-outline-danger pw-rule-remove",
                               title: "Remove this rule", "aria-label": "Remove this rule",
                               onclick: function () { self.removeRow(row); } }, [h("i", { className: "bi bi-x-lg" })]);
    row.tr = h("tr", { className: "pw-rule" },
               cells.map(function (c) { return c.td; }).concat([h("td", {}, [remove])]));
    // A problem about the whole rule (`rules[i]`) shows under its source and kind.
    cells[0].td.appendChild(row.rowFeedback);
    this.body.appendChild(row.tr);
    this.rows.push(row);
    if (focus) {
      this.setDirty(true);
      source.focus();
    }
    return row;
  };

  Editor.prototype.removeRow = function (row) {
    row.tr.remove();
    this.rows = this.rows.filter(function (r) { return r !== row; });
    this.clearProblems();  // their indexes named the rows as they were sent
    this.setDirty(true);
  };

  function mark(input, feedback, text) {
    if (input) { input.classList.toggle("is-invalid", !!text); }
    feedback.textContent = text || "";
    feedback.classList.toggle("d-block", !!text);
  }

  Editor.prototype.clearProblems = function () {
    this.rows.forEach(function (row) {
      Object.keys(row.feedback).forEach(function (name) { mark(row.inputs[name], row.feedback[name], ""); });
      mark(null, row.rowFeedback, "");
      row.tr.classList.remove("pw-rule-invalid");
    });
    mark(this.by, this.byFeedback, "");
    mark(this.comment, this.commentFeedback, "");
    this.tableProblems.replaceChildren();
  };

  // Each problem beside what its path names: `rules[i].field`, `rules[i]`, `by`, `comment`;
  // the rest (`rules`, `$`) above the Add button. Messages are the server's.
  Editor.prototype.showProblems = function (problems) {
    var self = this, loose = [];
    problems.forEach(function (p) {
      var found = /^rules\[(\d+)\](?:\.(\w+))?$/.exec(p.path);
      var row = found ? self.rows[Number(found[1])] : null;
      if (row && found[2] && row.feedback[found[2]]) {
        var feedback = row.feedback[found[2]];
        mark(row.inputs[found[2]], feedback,
             (feedback.textContent ? feedback.textContent + "; " : "") + p.message);
        row.tr.classList.add("pw-rule-invalid");
      } else if (row && !found[2]) {
        mark(null, row.rowFeedback, (row.rowFeedback.textContent ? row.rowFeedback.textContent + "; " : "") + p.message);
        row.tr.classList.add("pw-rule-invalid");
      } else if (p.path === "by") {
        mark(self.by, self.byFeedback, p.message);
      } else if (p.path === "comment") {
        mark(self.comment, self.commentFeedback, p.message);
      } else {
        loose.push(p);
      }
    });
    this.tableProblems.replaceChildren.apply(this.tableProblems, loose.map(function (p) {
      return h("li", {}, [h("code", { text: p.path }), " " + p.message]);
    }));
  };

  // The rows as the API takes them: blank source/kind = any, blank setting = not overridden.
  // A number input whose text the browser cannot read as a number is the one thing said here.
  Editor.prototype.collect = function () {
    var cfg = this.cfg, unreadable = false;
    var rules = this.rows.map(function (row) {
      var rule = { source: row.inputs.source.value.trim() || null, kind: row.inputs.kind.value || null };
      cfg.settings.forEach(function (s) {
        var input = row.inputs[s.name];
        if (input.validity.badInput) {
          mark(input, row.feedback[s.name], "not a number");
          unreadable = true;
        }
        rule[s.name] = input.value === "" ? null : Number(input.value);
      });
      return rule;
    });
    return unreadable ? null : rules;
  };

  Editor.prototype.submit = function () {
    var cfg = this.cfg, self = this;
    this.clearProblems();
    var rules = this.collect();
    if (rules === null) {
      this.say("danger", ["Some numbers could not be read; nothing was sent."]);
      return Promise.resolve();
    }
    remember(cfg.operator_key, this.by.value.trim());
    this.save.disabled = true;
    return send("PUT", cfg.rules_path, { rules: rules, by: this.by.value, comment: this.comment.value },
                { "If-Match": this.etag }).then(function (answer) {
      self.save.disabled = false;
      if (answer.status === 200) {
        self.show(answer.body, answer.etag);
        self.comment.value = "";
        self.say("success", [icon("bi-check2-circle"), "Saved: the rules are now version " +
                             answer.body.version + "; they apply at the next evaluation."]);
        self.loadChanges(false);
        return;
      }
      var r = refusal(answer);
      if (answer.status === 412) {
        self.say("warning", [
          h("strong", { text: "The rules changed since you opened them: reload. " }),
          "Nothing was saved. Reload shows the current rules (your edits here are dropped); " +
          "then make your change again.",
          h("div", { className: "mt-2" }, [h("button", {
            type: "button", className: "btn btn-sm btn-warning pw-rules-reload-changed",
            onclick: function () { self.load(); } }, [icon("bi-arrow-clockwise"), "Reload the rules"])])
        ]);
      } else if (answer.status === 422) {
        self.showProblems(r.problems);
        self.say("danger", [h("strong", { text: "Not saved: " }), r.message +
                            " (each problem is shown beside what it names)."]);
      } else {
        self.sayRefusal(r, "saved");
      }
    });
  };
  // endregion

  // region the change log --------------------------------------------------------------------
  Editor.prototype.scopeText = function (rule) {
    var cfg = this.cfg;
    var kind = cfg.kinds.filter(function (k) { return k.value === rule.kind; })[0];
    return (rule.source || cfg.any_source) + " · " + (kind ? kind.label : rule.kind || cfg.any_kind);
  };

  function valueText(value) { return value === null || value === undefined ? "inherited" : String(value); }

  // One line per rule that differs between `before` and `after`, matched by source and kind.
  Editor.prototype.diffLines = function (before, after) {
    var cfg = this.cfg, self = this, lines = [];
    function key(rule) { return JSON.stringify([rule.source, rule.kind]); }
    var old = {};
    before.forEach(function (rule) { old[key(rule)] = rule; });
    var seen = {};
    function settingsOf(rule) {
      return cfg.settings.filter(function (s) { return rule[s.name] !== null && rule[s.name] !== undefined; })
        .map(function (s) { return s.label + " " + rule[s.name]; }).join(", ");
    }
    after.forEach(function (rule) {
      var was = old[key(rule)];
      seen[key(rule)] = true;
      if (!was) {
        lines.push(["added", self.scopeText(rule) + ": " + settingsOf(rule)]);
        return;
      }
      var changed = cfg.settings.filter(function (s) { return valueText(was[s.name]) !== valueText(rule[s.name]); })
        .map(function (s) { return s.label + " " + valueText(was[s.name]) + " → " + valueText(rule[s.name]); });
      if (changed.length) { lines.push(["changed", self.scopeText(rule) + ": " + changed.join(", ")]); }
    });
    before.forEach(function (rule) {
      if (!seen[key(rule)]) { lines.push(["removed", self.scopeText(rule) + " (was " + settingsOf(rule) + ")"]); }
    });
    return lines;
  };

  Editor.prototype.changeItem = function (change) {
    var lines = this.diffLines(change.before || [], change.after || []);
    var words = { added: ["bi-plus-circle", "Added"], changed: ["bi-pencil", "Changed"],
                  removed: ["bi-dash-circle", "Removed"] };
    return h("li", { className: "pw-rules-change mb-2", "data-change": String(change.id) }, [
      h("div", { className: "small" }, [
        h("strong", { text: change.by }), " · " + utcText(change.at),
        change.comment ? h("span", { className: "text-body-secondary", text: " · “" + change.comment + "”" }) : null
      ]),
      h("ul", { className: "small mb-0 pw-rules-diff" }, lines.length ? lines.map(function (line) {
        return h("li", { className: "pw-rules-" + line[0] }, [icon(words[line[0]][0]), words[line[0]][1] + " " + line[1]]);
      }) : [h("li", { className: "text-body-secondary", text: "no rule differs" })])
    ]);
  };

  Editor.prototype.loadChanges = function (older) {
    var cfg = this.cfg, self = this;
    var query = older && this.olderQuery ? this.olderQuery : "?limit=" + cfg.changes_limit;
    return send("GET", cfg.changes_path + query).then(function (answer) {
      if (answer.status !== 200) {
        var r = refusal(answer);
        self.changes.replaceChildren(h("li", { className: "text-danger small",
          text: "The change log could not be read: HTTP " + r.status + " " + (r.code || "") + " " + r.message }));
        return;
      }
      var items = answer.body.items.map(function (change) { return self.changeItem(change); });
      if (older) {
        items.forEach(function (item) { self.changes.appendChild(item); });
      } else {
        self.changes.replaceChildren.apply(self.changes, items.length ? items
          : [h("li", { className: "small text-body-secondary", text: "No changes yet." })]);
      }
      var next = answer.body.next_url;
      self.olderQuery = next ? next.slice(next.indexOf("?")) : null;
      self.older.classList.toggle("d-none", !next);
    });
  };
  // endregion

  // Dash calls this once the page is up, with the config; the editor lives on its root node.
  function mount(cfg) {
    var root = cfg && document.getElementById(cfg.root);
    if (!root) { return window.dash_clientside.no_update; }
    if (!root.pipewatchRules) {
      root.pipewatchRules = new Editor(root, cfg);
      root.pipewatchRules.load();
    }
    return "pw-rules pw-rules-mounted";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pipewatch_rules: { mount: mount }
  });
})();
