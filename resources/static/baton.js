// The page script, a progressive enhancement: every page works without this file.
// - Keyboard shortcuts (the #shortcuts dialog lists them; "?" opens it). Single keys act only
//   when no field has the focus and no modifier is held, so typing is never taken over.
//   Ctrl+Enter (or Cmd+Enter) in a field sends its form, by the form's primary button.
// - Filters marked data-auto-submit apply on change (their Apply button is hidden); so does a
//   choice marked data-redraw (the new-item form's project and type), which draws the form
//   again for it, keeping what was typed.
// - Times (<time datetime>) in the browser's zone, or the zone in <html data-time-zone>;
//   relative ones ("3 h ago") kept current.
// - Buttons with data-confirm ask in the #confirm dialog before their form is sent; the
//   form then carries confirm=yes, as the server's confirmation page would send it.
// - Forms marked data-in-place (the task boxes of a description, an item's fields) are sent in
//   the background and the page's main part is replaced by the answer, keeping the scroll
//   position and the focus (a refusal or a collision in the answer is scrolled into view, as
//   it is on a page answering a form sent without the script's help).
// - A field's form marked data-set-on-change is sent when its choice changes (its Set button is
//   hidden); chosen with the keyboard on a closed list, when Enter is pressed or the focus
//   leaves it, so that arrowing through the choices sends nothing. A field's date or text shows
//   its Set button once it was changed (Enter sends it too).
// - A field that opens to be changed (a long text, several choices, a URL) puts the focus in
//   its form when opened.
// - A notice of what an action did (sticky at the top) is dismissed with its × button.
// - A page with <meta name="baton-refresh"> reloads itself, but not while a dialog is open or
//   a field is being edited (without the script, a <noscript> meta refresh does it).
// - Images pasted or dropped into a text marked data-paste-images (its value: where to upload)
//   become attachments of the item, shown where the text names them (![](attachment:name)).
//   Not into a private note: every reader of the item would see the attachment.
(function () {
  "use strict";

  document.documentElement.classList.add("scripted");

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function focus(selector) {
    var element = document.querySelector(selector);
    if (!element) return false;
    element.focus();
    return true;
  }

  // j / k: the next or previous row of the page's item lists (links marked data-nav).
  function step(by) {
    var links = Array.prototype.slice.call(document.querySelectorAll("main a[data-nav]"));
    if (links.length === 0) return false;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (by > 0 ? 0 : links.length - 1) : Math.min(Math.max(at + by, 0), links.length - 1);
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function edit() {
    var details = document.getElementById("edit");
    if (!details) return false;
    details.open = true;
    return focus("#edit-title");
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function help() {
    var dialog = document.getElementById("shortcuts");
    if (!dialog || typeof dialog.showModal !== "function") return false;
    if (dialog.open) dialog.close(); else dialog.showModal();
    return true;
  }

  var actions = {
    "/": function () { return focus("#site-search"); },
    "j": function () { return step(1); },
    "k": function () { return step(-1); },
    "e": edit,
    "c": function () { return focus("#comment-body"); },
    "l": function () { return focus("#add-label"); },
    "a": function () { return focus("#set-assignee"); },
    "p": function () { return focus("#set-priority"); },
    "s": function () { return focus("button.status-move"); },
    "n": function () { return follow("a[data-shortcut=new-item-here]") || follow("a[data-shortcut=new-item]"); },
    "?": help
  };

  function anyDialogOpen() {
    return document.querySelector("dialog[open]") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.defaultPrevented) return;
    var form = event.target.form;
    if (!form || typeof form.requestSubmit !== "function") return;
    event.preventDefault();
    form.requestSubmit(form.querySelector("button.primary") || undefined);
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var shortcuts = document.getElementById("shortcuts");
    if (anyDialogOpen() && !(shortcuts && shortcuts.open && event.key === "?")) return;
    var action = actions[event.key];
    if (action && action()) event.preventDefault();
  });

  // Times. The server wrote UTC; the same rules as times.rs, in the reader's zone.
  var zone = document.documentElement.getAttribute("data-time-zone") || undefined;
  var exactFormat, dayFormat, secondsFormat;
  try {
    exactFormat = new Intl.DateTimeFormat(undefined, { timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
    secondsFormat = new Intl.DateTimeFormat(undefined, { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" });
    dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
  } catch (error) {
    exactFormat = null;
  }

  function relative(date, now) {
    var seconds = Math.floor((now - date) / 1000);
    if (seconds < 45) return "just now";
    if (seconds < 3600) return Math.max(1, Math.floor(seconds / 60)) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    if (seconds < 30 * 86400) return Math.floor(seconds / 86400) + " d ago";
    return dayFormat.format(date);
  }

  function localTimes() {
    if (!exactFormat) return;
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      if (element.hasAttribute("data-exact")) {
        element.textContent = secondsFormat.format(date);
      } else {
        element.textContent = relative(date, now);
        element.title = exactFormat.format(date);
      }
    });
  }

  // Filters that apply as soon as one changes; fields set as soon as their choice changes.
  function setsOnChange(target) {
    return target.tagName === "SELECT" && target.form && target.form.hasAttribute("data-set-on-change");
  }

  function chosenAnew(select) {
    return Array.prototype.some.call(select.options, function (option) {
      return option.selected !== option.defaultSelected;
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form || typeof form.requestSubmit !== "function") return;
    if (form.hasAttribute("data-auto-submit")) {
      form.requestSubmit();
    } else if (event.target.hasAttribute("data-redraw")) {
      form.requestSubmit(form.querySelector("button.redraw"));
    } else if (setsOnChange(event.target) && !event.target.hasAttribute("data-keyed")) {
      form.requestSubmit();
    }
  });

  // A field's date or text shows its Set button once it differs from the value stored.
  document.addEventListener("input", function (event) {
    var target = event.target;
    var form = target.form;
    if (!form || !form.classList.contains("set") || target.tagName !== "INPUT") return;
    form.classList.toggle("dirty", target.value !== target.defaultValue);
  });

  // A choice made with the keyboard is sent once: by Enter, or when the focus leaves.
  function sendKeyed(select) {
    var keyed = select.hasAttribute("data-keyed");
    select.removeAttribute("data-keyed");
    if (keyed && chosenAnew(select)) select.form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!setsOnChange(target)) return;
    if (event.key === "Enter") {
      event.preventDefault();
      sendKeyed(target);
    } else if (event.key !== "Tab" && event.key !== "Escape") {
      target.setAttribute("data-keyed", "");
    }
  });

  document.addEventListener("focusout", function (event) {
    if (setsOnChange(event.target)) sendKeyed(event.target);
  });

  // Confirmations.
  var pending = null;

  function ask(form, button) {
    var dialog = document.getElementById("confirm");
    if (!dialog || typeof dialog.showModal !== "function") return false;
    document.getElementById("confirm-title").textContent = button.getAttribute("data-confirm");
    document.getElementById("confirm-detail").textContent = button.getAttribute("data-confirm-detail") || "";
    dialog.querySelector("[data-confirm-yes]").textContent = button.getAttribute("data-confirm-button") || "Confirm";
    pending = { form: form, button: button };
    dialog.showModal();
    return true;
  }

  function confirmed() {
    var dialog = document.getElementById("confirm");
    if (!pending) return;
    var form = pending.form, button = pending.button;
    pending = null;
    dialog.close();
    var field = form.querySelector("input[name=confirm]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm";
      form.appendChild(field);
    }
    field.value = "yes";
    form.requestSubmit(button);
  }

  // Sends a form in the background and puts the answer's main part in place of this one.
  function inPlace(form, button) {
    var body = new URLSearchParams(new FormData(form, button));
    var scroll = window.scrollY;
    var active = document.activeElement;
    var focusId = (button && button.id) || (active && form.contains(active) && active.id);
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector("main");
        if (!fresh) throw new Error("no page");
        document.querySelector("main").replaceWith(document.adoptNode(fresh));
        document.title = page.title;
        window.scrollTo(0, scroll);
        var again = focusId && document.getElementById(focusId);
        if (again) again.focus({ preventScroll: true });
        // A refusal or a collision is brought into view, not left above the fold.
        var problem = document.querySelector("main #collision, main .field-error");
        if (problem) problem.scrollIntoView({ block: "center" });
        localTimes();
      })
      .catch(function () {
        if (button && button.name) {
          var field = document.createElement("input");
          field.type = "hidden";
          field.name = button.name;
          field.value = button.value;
          form.appendChild(field);
        }
        form.submit();
      });
  }

  // A filter form's URL keeps only the fields that are set, so it reads well when shared.
  function applyFilters(form) {
    var query = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (value !== "") query.append(name, value);
    });
    var text = query.toString();
    window.location.assign(form.getAttribute("action") + (text ? "?" + text : ""));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (form.hasAttribute("data-auto-submit")) {
      event.preventDefault();
      applyFilters(form);
      return;
    }
    if (button && button.hasAttribute("data-confirm") && !(form.querySelector("input[name=confirm]") || {}).value) {
      if (ask(form, button)) event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-in-place") && typeof window.fetch === "function" && typeof DOMParser === "function") {
      event.preventDefault();
      inPlace(form, button);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-confirm-yes]")) {
      confirmed();
    } else if (target.closest("dialog [data-close]")) {
      pending = null;
      target.closest("dialog").close();
    } else if (target.closest("[data-dismiss]")) {
      target.closest(".alert").remove();
    } else if (target.closest("[data-open-edit]")) {
      if (edit()) event.preventDefault();
    }
  });

  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    if (!opened.classList || !opened.classList.contains("change") || !opened.open) return;
    var first = opened.querySelector("form textarea, form input:not([type=hidden])");
    if (first) first.focus();
  }, true);

  document.addEventListener("close", function (event) {
    if (event.target.id === "confirm") pending = null;
  }, true);

  // Pasted and dropped images.
  function pastedName(file, index) {
    var stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
    var extension = ((file.type.split("/")[1] || "png").replace("jpeg", "jpg").match(/^[a-z0-9]+/) || ["png"])[0];
    return "pasted-" + stamp + (index ? "-" + (index + 1) : "") + "." + extension;
  }

  function pasteNotice(field, message) {
    var notice = field.parentNode.querySelector(".paste-error");
    if (!notice) {
      notice = document.createElement("span");
      notice.className = "field-error paste-error";
      notice.setAttribute("role", "alert");
      field.insertAdjacentElement("afterend", notice);
    }
    notice.textContent = message;
    notice.hidden = !message;
  }

  function attachImages(field, files) {
    var images = Array.prototype.filter.call(files || [], function (file) { return /^image\//.test(file.type); });
    if (images.length === 0 || typeof window.fetch !== "function") return false;
    var form = field.form;
    var privateNote = form && form.querySelector("input[name=private]");
    if (privateNote && privateNote.checked) {
      pasteNotice(field, "Images cannot be pasted into a private note: every reader of the item would see the attachment.");
      return true;
    }
    var token = form && form.querySelector("input[name=csrf_token]");
    pasteNotice(field, "");
    images.forEach(function (file, index) {
      var name = pastedName(file, index);
      var placeholder = "![Uploading " + name + "…]()";
      field.setRangeText(placeholder + "\n", field.selectionStart, field.selectionEnd, "end");
      var body = new FormData();
      body.append("file", file, name);
      fetch(field.getAttribute("data-paste-images"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token ? token.value : "" }
      })
        .then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
            return answer;
          });
        })
        .then(function (attachment) {
          field.value = field.value.replace(placeholder, "![](attachment:" + encodeURIComponent(attachment.file_name) + ")");
        })
        .catch(function (error) {
          field.value = field.value.replace(placeholder + "\n", "");
          pasteNotice(field, "The image was not attached: " + error.message);
        });
    });
    return true;
  }

  function pasteTarget(event) {
    var field = event.target;
    return field && field.hasAttribute && field.hasAttribute("data-paste-images") ? field : null;
  }

  document.addEventListener("paste", function (event) {
    var field = pasteTarget(event);
    if (field && event.clipboardData && attachImages(field, event.clipboardData.files)) event.preventDefault();
  });

  document.addEventListener("dragover", function (event) {
    if (pasteTarget(event)) event.preventDefault();
  });

  document.addEventListener("drop", function (event) {
    var field = pasteTarget(event);
    if (field && event.dataTransfer && attachImages(field, event.dataTransfer.files)) event.preventDefault();
  });

  // The self-reloading pages (the cluster page).
  function scheduleRefresh() {
    var meta = document.querySelector("meta[name=baton-refresh]");
    if (!meta) return;
    var parts = /^(\d+);\s*url=(\S+)$/.exec(meta.getAttribute("content") || "");
    if (!parts) return;
    var seconds = Number(parts[1]);
    var busy = function () {
      var active = document.activeElement;
      return anyDialogOpen() || (active && typing(active) && active.value !== active.defaultValue);
    };
    var tick = function () {
      if (busy()) window.setTimeout(tick, seconds * 1000);
      else window.location.assign(parts[2]);
    };
    window.setTimeout(tick, seconds * 1000);
  }

  // A page that answers a refused form brings the refusal into view: the form may be far
  // down the page (a link, a comment), and the answer opens at its top.
  var refusal = document.querySelector("main #collision, main .field-error");
  if (refusal) refusal.scrollIntoView({ block: "center" });

  localTimes();
  window.setInterval(localTimes, 60 * 1000);
  scheduleRefresh();
})();
