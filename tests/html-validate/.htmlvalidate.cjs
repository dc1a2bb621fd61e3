// html-validate's recommended rules, less what email HTML needs and a web page does not.
// Used by tests/test_html_validate.py on every shipped layout; everything else stays an error.
"use strict";

// Presentational attributes that mail clients still need, because Outlook for Windows renders
// HTML with Word, which ignores the CSS for widths, alignment and background colours of tables.
// MJML and premailer write them on purpose; any other deprecated attribute is still an error.
const forOutlook = { deprecated: false };

module.exports = {
  root: true,
  extends: ["html-validate:recommended"],
  elements: [
    "html5",
    {
      body: { attributes: { bgcolor: forOutlook } },
      table: {
        attributes: {
          align: forOutlook, // centres the 600 px page and its sections
          bgcolor: forOutlook, // section and button colours
          width: forOutlook, // fixed widths: Word ignores width and max-width in CSS
          cellpadding: forOutlook, // Word adds its own cell spacing unless told 0
          cellspacing: forOutlook,
        },
      },
      td: {
        attributes: {
          align: forOutlook, // text and image alignment inside a cell
          valign: forOutlook, // columns aligned at the top, as on the web
          bgcolor: forOutlook,
          width: forOutlook, // the column widths of the Outlook-only tables
        },
      },
    },
  ],
  rules: {
    // Many mail clients drop <style> (Gmail's apps for other accounts, several webmails) or rewrite
    // it; the styles are inlined on purpose, premailer does it on every render.
    "no-inline-style": "off",
    // <!--[if mso]> blocks hand Outlook for Windows the fixed-width tables it needs for columns;
    // MJML writes them and every other client reads them as comments.
    "no-conditional-comment": "off",
    // MJML wraps the email in <div role="article" aria-roledescription="email" lang=…>, the
    // pattern for screen readers in mail clients: not every client keeps an <article> element.
    "prefer-native-element": ["error", { exclude: ["article"] }],
  },
};
