const $ = (id) => document.getElementById(id);
let recipient = 0, version = -1;
// Both frames as a mail program in dark mode shows the email, or in light mode; at first as this
// browser is set. The server turns the email's dark-mode media query on or off (preview.in_scheme).
let dark = matchMedia("(prefers-color-scheme: dark)").matches;
function fit(frame) {
  // A frame that loads while the text tab hides it measures 0: keep its size, fit it when shown.
  try {
    const height = frame.contentDocument.documentElement.scrollHeight;
    if (height > 0) { frame.style.height = height + "px"; }
  } catch (e) {}
}
for (const id of ["desktop", "phone"]) { $(id).addEventListener("load", () => fit($(id))); }
// What comes from the issue or the audience is set as text (textContent, new Option), never parsed
// as HTML: a subject or a mistake that holds markup shows as written.
async function update() {
  const state = await (await fetch("/state.json?r=" + recipient)).json();
  $("from").textContent = state.from; $("subject").textContent = state.subject;
  $("preheader").textContent = state.preheader;
  const kb = (state.size / 1024).toFixed(1), limit = (state.limit / 1024).toFixed(0);
  $("size").textContent = `HTML ${kb} KB of ${limit} KB (Gmail clips above)`;
  $("size").classList.toggle("over", state.size > state.limit);
  $("errors").textContent = state.errors.join("\n");
  $("errors").classList.toggle("shown", !state.ok);
  $("frames").classList.toggle("stale", !state.ok);
  const select = $("recipient");
  if (select.options.length !== state.recipients.length) {
    select.innerHTML = "";
    state.recipients.forEach((label, i) => select.add(new Option(label, i)));
    select.value = recipient;
  }
  $("dark").setAttribute("aria-pressed", String(dark));
  if (state.version !== version) {
    version = state.version;
    const q = `?r=${recipient}&v=${version}&scheme=${dark ? "dark" : "light"}`;
    $("desktop").src = "/email.html" + q; $("phone").src = "/email.html" + q;
    $("text").textContent = await (await fetch("/email.txt" + q)).text();
    check(false);
  }
  $("status").textContent = "version " + state.version;
  document.body.dataset.version = state.version;
}
// The preflight: the quick check with every new version; the links and the spam score on request.
async function check(online) {
  $("check-links").disabled = true;
  if (online) { $("check-summary").textContent = "asking every link…"; }
  try {
    const report = await (await fetch(`/check.json?r=${recipient}&links=${online ? 1 : 0}`)).json();
    const list = $("check-list");
    list.replaceChildren();
    for (const group of report.areas) {
      for (const f of group.findings) {
        if (f.level === "ok" && !report.online) { continue; }
        const item = document.createElement("li");
        item.className = f.level;
        item.textContent = `${group.area}: ${f.what}` + (f.where ? ` at ${f.where}` : "") + (f.fix ? `: ${f.fix}` : "");
        list.append(item);
      }
    }
    const summary = report.mistakes.length ? "the issue has mistakes (above)" : report.summary;
    $("check-summary").textContent = summary + (report.online ? " (links asked)" : " (links not asked yet)");
    $("check").dataset.version = report.version;
    $("check").dataset.online = report.online ? "1" : "0";
  } finally { $("check-links").disabled = false; }
}
$("check-links").addEventListener("click", () => check(true));
$("recipient").addEventListener("change", (e) => { recipient = Number(e.target.value); version = -1; update(); });
$("tab-html").addEventListener("click", () => { document.body.classList.remove("text");
  $("tab-html").classList.add("on"); $("tab-text").classList.remove("on");
  fit($("desktop")); fit($("phone")); });
$("dark").addEventListener("click", () => { dark = !dark; version = -1; update(); });
$("tab-text").addEventListener("click", () => { document.body.classList.add("text");
  $("tab-text").classList.add("on"); $("tab-html").classList.remove("on"); });
const events = new EventSource("/events");
events.onmessage = () => update();
update();
