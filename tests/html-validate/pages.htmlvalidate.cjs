// html-validate's recommended rules for the web pages the product serves itself (the unsubscribe
// pages of `newsletter serve`): pages for a browser, not email, so no rule is switched off.
// Used by tests/test_unsubscribe_pages.py.
"use strict";

module.exports = {
  root: true,
  extends: ["html-validate:recommended"],
  elements: ["html5"],
};
