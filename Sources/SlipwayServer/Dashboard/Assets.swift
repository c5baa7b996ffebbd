/// The dashboard's script and styles, embedded: no CDN, no build step. The script only adds
/// what the server-rendered page cannot: new log lines and steps as they happen (text nodes,
/// never markup), and the state at the end. Without it, the pages still read and act.
enum Assets {
    static let script = #"""
    (function () {
      "use strict";
      var log = document.getElementById("log");
      if (!log || !window.EventSource) { return; }
      var state = document.getElementById("state");
      if (state && state.getAttribute("data-final") === "true") { return; }
      var shown = parseInt(log.getAttribute("data-lines") || "0", 10);
      var seen = 0;
      var steps = document.getElementById("steps");
      var source = new EventSource(log.getAttribute("data-stream"));
      source.addEventListener("log", function (event) {
        seen += 1;
        if (seen <= shown) { return; }
        var data = JSON.parse(event.data);
        log.appendChild(document.createTextNode((log.textContent.length ? "\n" : "") + data.line));
        log.scrollTop = log.scrollHeight;
      });
      // The stream starts from the beginning: what the page already shows is skipped.
      var stepsShown = parseInt(steps.getAttribute("data-shown") || "0", 10);
      var stepsSeen = 0;
      function show(name) {
        if (!state) { return; }
        state.textContent = name.replace(/_/g, " ");
        state.className = "state state-" + name;
      }
      source.addEventListener("step", function (event) {
        stepsSeen += 1;
        if (stepsSeen <= stepsShown) { return; }
        var data = JSON.parse(event.data);
        var item = document.createElement("li");
        item.textContent = data.message;
        steps.appendChild(item);
      });
      source.addEventListener("state", function (event) {
        var data = JSON.parse(event.data);
        show(String(data.message).split(":")[0]);
      });
      source.addEventListener("end", function (event) {
        var data = JSON.parse(event.data);
        show(data.state);
        if (state) { state.setAttribute("data-final", "true"); }
        source.close();
      });
    })();
    """#

    static let style = #"""
    :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --busy: #9a6700; --muted: #6e7781; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 16px/1.5 system-ui, sans-serif; }
    header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--muted); }
    header .brand { font-weight: 700; text-decoration: none; }
    header nav a { margin-right: .75rem; }
    header .who { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
    main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid color-mix(in srgb, var(--muted) 40%, transparent); vertical-align: top; }
    .state { display: inline-block; padding: 0 .45rem; border-radius: .75rem; font-size: .85em; border: 1px solid currentColor; }
    .state-live, .state-succeeded { color: var(--ok); }
    .state-failed, .state-rolled_back, .state-down { color: var(--bad); }
    .state-queued, .state-building, .state-pushing, .state-rolling_out, .state-watching, .state-deploying { color: var(--busy); }
    .timeline { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
    .took { color: var(--muted); }
    pre { overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
    #log { max-height: 32rem; overflow-y: auto; padding: .5rem; border: 1px solid var(--muted); }
    .reason { color: var(--bad); }
    .inline { display: inline-flex; gap: .4rem; align-items: center; margin: 0 .5rem 0 0; }
    .login { display: grid; gap: .5rem; max-width: 28rem; }
    .error { color: var(--bad); font-weight: 600; }
    button { font: inherit; padding: .25rem .75rem; cursor: pointer; }
    a:focus, button:focus, input:focus { outline: 3px solid Highlight; outline-offset: 2px; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    .history { list-style: none; padding: 0; }
    @media (max-width: 40rem) { table.services thead { display: none; } table.services td, table.services th { display: block; border: 0; } table.services tr { display: block; border-bottom: 1px solid var(--muted); } }
    """#
}
