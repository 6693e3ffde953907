/* Phone numbers the way Swedes write them, for pages that draw numbers themselves (the console):
 * "+46812345678" → "08-123 456 78", "+46701234567" → "070-123 45 67". The same rules as
 * pbx/phone_format.py (tests/browser/test_admin_web.py holds the two to the same table); anything
 * else (extensions, foreign numbers) is shown as it is. Only for reading: what is sent stays E.164.
 */
(function (root) {
  "use strict";

  // Two-digit area codes (after the 0); 8 is Stockholm; 07x are mobiles; every other area code has three.
  var TWO_DIGIT_AREAS = ["10", "11", "13", "16", "18", "19", "20", "21", "23", "26", "31", "33", "35", "36", "40",
                         "42", "44", "46", "54", "60", "63", "90"];
  var MOBILE_PREFIXES = ["70", "72", "73", "76", "79"];

  function groupSubscriber(digits) {
    if (digits.length === 8) return digits.slice(0, 3) + " " + digits.slice(3, 6) + " " + digits.slice(6);
    var groups = [];
    var rest = digits;
    while (rest.length > 3) {
      groups.unshift(rest.slice(-2));
      rest = rest.slice(0, -2);
    }
    groups.unshift(rest);
    return groups.join(" ");
  }

  function splitArea(national) {
    if (national.charAt(0) === "8") return [national.slice(0, 1), national.slice(1)];
    var two = national.slice(0, 2);
    if (TWO_DIGIT_AREAS.indexOf(two) >= 0 || MOBILE_PREFIXES.indexOf(two) >= 0) return [two, national.slice(2)];
    return [national.slice(0, 3), national.slice(3)];
  }

  function format(value) {
    if (!value) return value || "";
    var match = /^\+46([1-9][0-9]{5,10})$/.exec(value);
    if (!match) return value;
    var parts = splitArea(match[1]);
    if (parts[1].length < 5) return value;  // too short to be a real number: do not pretend
    return "0" + parts[0] + "-" + groupSubscriber(parts[1]);
  }

  root.vaxelPhone = { format: format };
})(window);
