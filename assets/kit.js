/*
 * Shared helpers of the panels that draw their own DOM (assets/rules.js, the rules editor;
 * assets/notifications.js, the notifications panel), under window.pipewatch_kit. Dash loads
 * the assets in file-name order, so this file is loaded before both.
 *
 * h        a DOM element from a tag, attributes (className, text, on<event>) and children
 * icon     a Bootstrap icon
 * send     one request through XMLHttpRequest; resolves to {status, body, etag} (status 0:
 *          no answer), never rejects. Not fetch: assets/pipewatch.js wraps fetch so that a
 *          signed-out page goes to /login, and these panels show a 401 where the person acted.
 * refusal  the API's error document as {status, code, message, problems, signIn}, or what to
 *          say when the answer is not one
 */
(function () {
  "use strict";

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "className") { node.className = value; }
      else if (key === "text") { node.textContent = value; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), value); }
      else { node.setAttribute(key, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(name) { return h("i", { className: "bi " + name + " me-1", "aria-hidden": "true" }); }

  function send(method, url, body, headers) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.setRequestHeader("Accept", "application/json");
      Object.keys(headers || {}).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      if (body !== undefined) { xhr.setRequestHeader("Content-Type", "application/json"); }
      xhr.onload = function () {
        var json = null;
        try { json = JSON.parse(xhr.responseText); } catch (e) { json = null; }
        resolve({ status: xhr.status, body: json, etag: xhr.getResponseHeader("ETag") });
      };
      xhr.onerror = function () { resolve({ status: 0, body: null, etag: null }); };
      xhr.send(body === undefined ? null : JSON.stringify(body));
    });
  }

  // The API's error document, or what to say when the answer is not one.
  function refusal(answer) {
    var error = answer.body && answer.body.error;
    if (!error) {
      return { status: answer.status, code: null, problems: [], signIn: null,
               message: answer.status ? "HTTP " + answer.status + ", not the API's JSON answer"
                                      : "the server did not answer" };
    }
    var details = error.details || {};
    var signIn = details.sign_in;
    return { status: answer.status, code: error.code, message: error.message,
             problems: details.problems || [],
             signIn: typeof signIn === "string" && signIn.charAt(0) === "/" &&
                     signIn.charAt(1) !== "/" ? signIn : null };
  }

  window.pipewatch_kit = { h: h, icon: icon, send: send, refusal: refusal };
}());
