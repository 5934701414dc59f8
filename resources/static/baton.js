// Keyboard shortcuts, a progressive enhancement: every page works without this file.
// Single keys act only when no field has the focus and no modifier is held, so typing is
// never taken over. The list is in the page's #shortcuts dialog ("?" opens it).
(function () {
  "use strict";

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
    "n": function () { return follow("a[data-shortcut=new-item]"); },
    "?": help
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open && event.key !== "?") return;
    var action = actions[event.key];
    if (action && action()) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.matches && event.target.matches("#shortcuts [data-close]")) {
      document.getElementById("shortcuts").close();
    }
  });
})();
