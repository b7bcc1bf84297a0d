// Bulletin admin UI: small enhancements over server-rendered pages — the
// live preview of a campaign or a system mail, the live progress of a
// campaign and of an import, and the upload bar. Every page works without.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  function debounce(fn, ms) {
    var t;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  function post(url, params) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: params
    }).then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
  }

  function text(id, v) {
    var el = document.getElementById(id);
    if (el) { el.textContent = v; }
  }

  // frameQueue returns a function that has send post a form into frame,
  // one navigation at a time: a post asked for while the frame is still
  // loading (its src, or the last post) waits for the frame's load, and of
  // those that wait only the last is sent. Chromium runs a sandboxed frame
  // in a process of its own, and a frame navigated again before its load
  // had ended sometimes kept the new document unpainted, blank for good,
  // later posts included: the saved draft's page posted its form into the
  // frame while the frame's src was loading.
  function frameQueue(frame, send) {
    var busy = false, again = false, timer;
    var done = function () {
      busy = false;
      clearTimeout(timer);
      if (again) { again = false; go(); }
    };
    var go = function () {
      busy = true;
      // A load that never comes (a server that does not answer) does
      // not hold the preview for good.
      timer = setTimeout(done, 10000);
      send();
    };
    frame.addEventListener("load", done);
    // The frame's src is loading, or has loaded before this script ran:
    // the page's own load comes after the frame's.
    var first = frame.hasAttribute("src") && document.readyState !== "complete";
    if (first) {
      busy = true;
      frame.addEventListener("load", function () { first = false; });
      window.addEventListener("load", function () { if (first) { first = false; done(); } });
    }
    return function () {
      if (busy) { again = true; } else { go(); }
    };
  }

  // The sign-in form that answers a POST (a form sent after the session
  // ended, a wrong password) takes the POST's place in the history under
  // a GET address of the same form, so that Back and reload do not send
  // the POST again.
  var signIn = document.querySelector("form[data-here]");
  if (signIn && window.history && history.replaceState) {
    history.replaceState(null, "", signIn.getAttribute("data-here"));
  }

  // A form marked data-keep (the campaign's) is kept in this tab's
  // sessionStorage as it is sent, and put back when its page loads again
  // before a success: a form sent after the session ended comes back
  // after the sign-in, the server having stored nothing. A page that
  // says a form succeeded (?done=) drops what was kept; so does logging
  // out, and whatever is older than an hour.
  var keptPrefix = "bulletin-unsent:", keptFor = 3600 * 1000;
  // dropKept drops what was kept, all of it or what is older than an
  // hour.
  var dropKept = function (all) {
    try {
      for (var i = sessionStorage.length - 1; i >= 0; i--) {
        var k = sessionStorage.key(i);
        if (!k || k.indexOf(keptPrefix) !== 0) { continue; }
        var at = 0;
        try { at = JSON.parse(sessionStorage.getItem(k)).at || 0; } catch (e) { at = 0; }
        if (all || Date.now() - at > keptFor) { sessionStorage.removeItem(k); }
      }
    } catch (e) { /* storage off: nothing was kept */ }
  };
  var keptFields = function (form) {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || /^(hidden|submit|button|reset|file|password|image)$/.test(el.type)) { return; }
      out.push({ n: el.name, v: el.value, c: (el.type === "checkbox" || el.type === "radio") ? el.checked : null });
    });
    return out;
  };
  // restoreKept puts fields back into form and reports whether that
  // changed anything.
  var restoreKept = function (form, fields) {
    var changed = false;
    Array.prototype.forEach.call(form.elements, function (el) {
      fields.forEach(function (f) {
        if (f.n !== el.name) { return; }
        if (f.c !== null) {
          if (el.value === f.v && el.checked !== f.c) { el.checked = f.c; changed = true; }
        } else if (el.value !== f.v) {
          el.value = f.v; changed = true;
        }
      });
    });
    return changed;
  };
  dropKept(/[?&]done=/.test(location.search));
  document.querySelectorAll("form[data-keep]").forEach(function (form) {
    var key = keptPrefix + form.getAttribute("action"), kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(key) || "null");
      sessionStorage.removeItem(key);
    } catch (e) { kept = null; }
    if (!kept || !kept.fields) { return; }
    // A form sent back with an error already shows what was sent.
    if (!restoreKept(form, kept.fields)) { return; }
    // What was typed is the author's: its findings show at once.
    form.removeAttribute("data-findings-later");
    var note = document.createElement("p");
    note.className = "msg notice";
    note.id = "kept-notice";
    note.setAttribute("role", "status");
    note.textContent = "The form holds what you typed and sent last, which was not saved: check it, then save it again.";
    var h1 = document.querySelector("main h1");
    if (h1) { h1.after(note); }
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (ev.defaultPrevented) { return; }
    if (form.classList.contains("logout")) { dropKept(true); return; }
    if (!form.hasAttribute("data-keep")) { return; }
    try {
      sessionStorage.setItem(keptPrefix + form.getAttribute("action"), JSON.stringify({ at: Date.now(), fields: keptFields(form) }));
    } catch (e) { /* storage off or full: the form is sent as ever */ }
  });

  // Campaign compose: preview the unsaved form.
  var compose = document.getElementById("compose");
  if (compose) {
    var frame = document.getElementById("preview-frame");
    var state = document.getElementById("preview-state");
    var findings = document.getElementById("findings");
    // The HTML part loads into the sandboxed frame from the server, which
    // serves it under a policy of its own (no scripts, no remote images):
    // the form is posted into the frame.
    var postFrame = frameQueue(frame, function () {
      var action = compose.getAttribute("action");
      compose.setAttribute("action", compose.getAttribute("data-preview-html"));
      compose.setAttribute("target", "preview-frame");
      HTMLFormElement.prototype.submit.call(compose);
      compose.setAttribute("action", action);
      compose.removeAttribute("target");
    });
    // A new campaign's empty form is not yet wrong: its findings ("the
    // campaign has no lists") wait until the author types or asks for the
    // preview.
    var showFindings = !compose.hasAttribute("data-findings-later");
    var refresh = function () {
      state.textContent = "(rendering…)";
      postFrame();
      post(compose.getAttribute("data-preview"), new URLSearchParams(new FormData(compose))).then(function (j) {
        if (j.error) { state.textContent = "(" + j.error + ")"; return; }
        compose.bulletinPreview = j;
        text("preview-subject", "Subject: " + j.subject);
        state.textContent = "(as the first subscriber of the first list gets it)";
        if (!showFindings) { return; }
        findings.hidden = j.findings.length === 0;
        findings.innerHTML = "";
        if (j.findings.length) {
          var h = document.createElement("h2"); h.textContent = "Pre-send check"; findings.appendChild(h);
          var ul = document.createElement("ul");
          j.findings.forEach(function (f) {
            var li = document.createElement("li"); li.className = "f-" + f.severity;
            li.textContent = f.severity + ": " + f.message + (f.fix ? " — " + f.fix : "");
            ul.appendChild(li);
          });
          findings.appendChild(ul);
        }
      }).catch(function () { state.textContent = "(preview failed)"; });
    };
    compose.addEventListener("input", function () { showFindings = true; });
    compose.addEventListener("input", debounce(refresh, 700));
    document.getElementById("preview-btn").addEventListener("click", function () { showFindings = true; refresh(); });
    refresh();
  }

  // Layouts: the preview follows the unsaved layout and the mail chosen to
  // preview, by posting the form into the preview frame as its Preview
  // button does.
  var layoutForm = document.getElementById("layout-form");
  if (layoutForm) {
    var layoutPreview = layoutForm.querySelector("button[formtarget]");
    var layoutFrame = document.querySelector("iframe[name='" + layoutPreview.getAttribute("formtarget") + "']");
    layoutForm.addEventListener("input", debounce(frameQueue(layoutFrame, function () {
      var action = layoutForm.getAttribute("action");
      layoutForm.setAttribute("action", layoutPreview.getAttribute("formaction"));
      layoutForm.setAttribute("target", layoutPreview.getAttribute("formtarget"));
      HTMLFormElement.prototype.submit.call(layoutForm);
      layoutForm.setAttribute("action", action);
      layoutForm.removeAttribute("target");
    }), 700));
  }

  // System mail texts: preview each textarea as it is edited, by posting
  // the text into the list's preview frame.
  document.querySelectorAll(".tmpl-form").forEach(function (form) {
    var frame = form.querySelector(".tmpl-frame"), edited;
    var postFrame = frameQueue(frame, function () {
      var f = document.createElement("form");
      f.method = "post";
      f.action = form.getAttribute("data-preview");
      f.target = frame.name;
      f.hidden = true;
      [["csrf", csrf], ["kind", edited.getAttribute("data-kind")], ["text", edited.value]].forEach(function (kv) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
        f.appendChild(i);
      });
      document.body.appendChild(f);
      f.submit();
      f.remove();
    });
    form.querySelectorAll("textarea[data-kind]").forEach(function (ta) {
      ta.addEventListener("input", debounce(function () { edited = ta; postFrame(); }, 700));
    });
  });

  // formatETA is the Go formatETA (admin/ui_campaigns.go): "about 3 min left".
  function formatETA(secs) {
    var s = Math.round(secs || 0);
    if (s <= 0) { return ""; }
    if (s < 60) { return "about " + s + " s left"; }
    if (s < 3600) { return "about " + Math.round(s / 60) + " min left"; }
    var h = Math.floor(s / 3600);
    return "about " + h + " h " + Math.round((s - h * 3600) / 60) + " min left";
  }

  // Campaign progress: server-sent events while it runs. A paused
  // campaign's stream ends at once: it is opened again every few seconds,
  // so that the last messages in flight, and a resume from elsewhere,
  // show.
  var prog = document.getElementById("progress");
  if (prog && window.EventSource) {
    var st = prog.getAttribute("data-status");
    var watch = function () {
      var es = new EventSource(prog.getAttribute("data-src"));
      es.addEventListener("stats", function (ev) {
        var p = JSON.parse(ev.data);
        var bar = document.getElementById("c-bar");
        bar.value = p.percent;
        bar.textContent = Math.round(p.percent) + "%";
        text("c-pct", p.percent.toFixed(1) + "%");
        text("c-done", p.stats.total - p.stats.remaining);
        text("c-total", p.stats.total);
        text("c-rate", Math.round(p.rate));
        var eta = formatETA(p.eta_seconds);
        text("c-eta", eta ? ", " + eta : "");
        text("r-sent", p.stats.sent);
        text("r-failed", p.stats.failed);
        text("r-deferred", p.stats.deferred);
        text("c-status", p.status);
        prog.setAttribute("data-percent", p.percent);
        // The actions and notices were rendered for the old status (a
        // scheduled campaign that started still offers Unschedule, which
        // would be a 409): load the page again for the new one.
        // Without ?done=, whose notice ("The campaign is scheduled.") is
        // stale too.
        if (p.status !== st) {
          es.close();
          location.replace(location.pathname);
        }
      });
      es.addEventListener("end", function () {
        es.close();
        if (st === "paused") {
          setTimeout(watch, 5000);
        } else {
          setTimeout(function () { location.reload(); }, 1500);
        }
      });
    };
    if (st === "running" || st === "scheduled" || st === "paused") { watch(); }
  }

  // The send button says what it will do with the time typed, saved or
  // not: the send saves the form first.
  var sendAt = document.getElementById("send_at"), sendBtn = document.getElementById("send");
  if (sendAt && sendBtn) {
    var label = function () {
      var future = sendAt.value && new Date(sendAt.value + "Z") > new Date();
      sendBtn.textContent = future ? "Schedule" : "Send now";
      if (future) { sendBtn.removeAttribute("data-confirm"); }
      else { sendBtn.setAttribute("data-confirm", "Send this campaign to its lists now?"); }
    };
    sendAt.addEventListener("input", label);
    sendAt.addEventListener("change", label);
    // The time may have been put back by the kept form (above).
    label();
  }

  // The send time is typed in UTC: the browser says what it is in the
  // editor's own time zone as they type ("= 2030-01-15 14:00 in your time
  // zone (Europe/Paris)").
  var sendLocal = document.getElementById("send_at-local");
  if (sendAt && sendLocal) {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var showLocal = function () {
      var d = sendAt.value ? new Date(sendAt.value + "Z") : null;
      if (!d || isNaN(d.getTime())) { sendLocal.textContent = ""; return; }
      var local = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
      var off = -d.getTimezoneOffset(), sign = off < 0 ? "-" : "+";
      var utcOff = "UTC" + sign + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
      sendLocal.textContent = "= " + local + " in your time zone (" + (zone ? zone + ", " : "") + utcOff + ")";
    };
    sendAt.addEventListener("input", showLocal);
    sendAt.addEventListener("change", showLocal);
    showLocal();
  }

  // Actions that cannot be undone ask first (data-confirm on the button).
  document.addEventListener("submit", function (ev) {
    var b = ev.submitter || ev.target.querySelector("button[data-confirm]");
    var q = b && b.getAttribute("data-confirm");
    if (q && !window.confirm(q)) { ev.preventDefault(); }
  }, true);

  // Import: upload with a progress bar, then go to the job's page.
  var imp = document.getElementById("import-form");
  // A confirmed import needs a reason: the browser says so before the
  // file is uploaded, rather than the server after.
  var reason = document.getElementById("reason"), confirmedMode = document.getElementById("mode-confirmed");
  if (imp && reason && confirmedMode) {
    var needReason = function () { reason.required = confirmedMode.checked; };
    imp.addEventListener("change", needReason);
    needReason();
  }
  if (imp && window.FormData) {
    imp.addEventListener("submit", function (e) {
      e.preventDefault();
      var box = document.getElementById("upload-progress");
      var bar = document.getElementById("upload-bar");
      box.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", imp.action);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) { bar.value = 100 * ev.loaded / ev.total; }
      };
      xhr.onload = function () {
        if (xhr.status === 202) {
          location.href = JSON.parse(xhr.responseText).url;
          return;
        }
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = doc.querySelector("main");
        if (main) { document.querySelector("main").innerHTML = main.innerHTML; } else { imp.submit(); }
      };
      xhr.onerror = function () { imp.submit(); };
      xhr.send(new FormData(imp));
    });
  }

  // Import job: poll its progress until it ends.
  var job = document.getElementById("import-job");
  if (job && job.getAttribute("data-status") === "running") {
    var poll = function () {
      fetch(job.getAttribute("data-status-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          var bar = document.getElementById("import-bar");
          bar.value = j.percent;
          text("import-pct", Math.round(j.percent) + "%");
          text("import-rows", j.rows);
          text("import-rate", Math.round(j.rows_per_second));
          text("import-state", j.status);
          if (j.status === "running") { setTimeout(poll, 500); } else { location.reload(); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 300);
  }
})();
