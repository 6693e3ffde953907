/* The user web's small helpers; every page works without them.
 * - status: picking a status fills in its default message (unless you typed your own) and
 *   choosing a custom end time selects "a time I choose";
 * - profiles: number fields show only when their action is "forward", and the "while my phones
 *   ring" steps only when the first step is to ring;
 * - forms marked data-confirm ask before deleting;
 * - status swatches take their colour from data-color;
 * - after a refused post, focus moves to the list of problems (it is also announced);
 * - the current tab is scrolled into view when the tabs do not fit on one line. */
(function () {
  "use strict";

  function statusForm() {
    var form = document.getElementById("status-form");
    var data = document.getElementById("status-defaults");
    if (!form || !data) return;
    var defaults = JSON.parse(data.textContent);
    var message = form.querySelector("[name=message]");
    var lastDefault = null;
    form.querySelectorAll("input[name=status]").forEach(function (radio) {
      if (radio.checked && defaults[radio.value]) lastDefault = defaults[radio.value].message;
      radio.addEventListener("change", function () {
        var entry = defaults[radio.value];
        if (!entry || !message) return;
        if (message.value === "" || message.value === lastDefault) message.value = entry.message;
        lastDefault = entry.message;
        if (!entry.needs_end) return;
        var none = form.querySelector("input[name=ends][value=none]");
        var hour = form.querySelector("input[name=ends][value=hour]");
        if (none && none.checked && hour) hour.checked = true;
      });
    });
    var until = form.querySelector("[name=until]");
    var custom = form.querySelector("input[name=ends][value=custom]");
    if (until && custom) {
      ["focus", "input", "change"].forEach(function (type) {
        until.addEventListener(type, function () { custom.checked = true; });
      });
    }
  }

  function valueOf(form, name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    if (checked) return checked.value;
    var select = form.querySelector('select[name="' + name + '"]');
    return select ? select.value : null;
  }

  function profileForm() {
    var form = document.getElementById("profile-form");
    if (!form) return;
    function update() {
      form.querySelectorAll("[data-show-when]").forEach(function (field) {
        var hasError = field.classList.contains("field--error");
        field.hidden = !hasError && valueOf(form, field.dataset.showWhen) !== "forward";
      });
      form.querySelectorAll("[data-ringing]").forEach(function (group) {
        group.hidden = !group.querySelector(".field--error") && valueOf(form, group.dataset.ringing) !== "ring";
      });
      var schedule = form.querySelector("#field-schedule");
      if (schedule && !schedule.classList.contains("field--error")) {
        schedule.hidden = valueOf(form, "activation") !== "scheduled";
      }
    }
    form.addEventListener("change", update);
    update();
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // A status's own colour: set here, not in a style attribute, which the Content-Security-Policy refuses.
  function swatches() {
    document.querySelectorAll(".swatch[data-color]").forEach(function (swatch) {
      if (/^#[0-9a-fA-F]{3,8}$/.test(swatch.dataset.color)) swatch.style.background = swatch.dataset.color;
    });
  }

  function focusErrors() {
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();
  }

  // My pages' tabs are one scrolling line on narrower screens: the current one is scrolled into its bar.
  function currentTab() {
    var list = document.querySelector(".me-nav ul");
    var current = list && list.querySelector("[aria-current=page]");
    if (!current || list.scrollWidth <= list.clientWidth) return;
    var bar = list.getBoundingClientRect();
    var tab = current.getBoundingClientRect();
    if (tab.right > bar.right) list.scrollLeft += tab.right - bar.right;
    else if (tab.left < bar.left) list.scrollLeft -= bar.left - tab.left;
  }

  function start() {
    currentTab();
    swatches();
    statusForm();
    profileForm();
    confirmations();
    focusErrors();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
