/// The status page's HTML shell and style sheet, carried in the binary (nothing is fetched from elsewhere).
/// The page's behaviour is `StatusPageAssets.script`.
public enum StatusPageAssets {
    /// One shell for `/`, `/jobs/ID` and `/batches/NAME`; the script renders by path.
    public static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hidiff cluster</title>
<link rel="stylesheet" href="/ui/style.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header>
  <a class="brand" href="/">hidiff</a>
  <nav id="crumbs"></nav>
  <span id="live" class="live off" title="server-sent events">connecting</span>
  <form id="token-form" class="token" autocomplete="off">
    <input id="token" type="password" placeholder="API token (admin actions)" aria-label="API token">
    <button type="submit" id="token-save">Use</button>
    <button type="button" id="token-clear" hidden>Forget</button>
    <span id="role">read-only</span>
  </form>
</header>
<main id="main"><p class="muted">Loading...</p></main>
<footer>
  <details id="live-log" data-status-events="0" data-preview-events="0" data-page-id="">
    <summary>live events: <span id="live-count">0</span></summary>
    <ol id="live-entries"></ol>
  </details>
</footer>
</body>
</html>
"""#

    /// `/ui/style.css`.
    public static let style = #"""
:root { --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --line: #d9dde4; --accent: #2563eb; --ok: #15803d;
        --bad: #b91c1c; --warn: #b45309; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 16px; align-items: center; padding: 10px 20px; background: #111827; color: #e5e7eb; flex-wrap: wrap; }
header a { color: #e5e7eb; }
.brand { font-weight: 700; font-size: 18px; text-decoration: none; }
nav a { margin-right: 6px; }
.live { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #374151; }
.live.on { background: var(--ok); color: #fff; }
.live.off { background: var(--bad); color: #fff; }
.token { margin-left: auto; display: flex; gap: 6px; align-items: center; }
.token input { width: 220px; padding: 4px 6px; border-radius: 4px; border: 1px solid #4b5563; background: #1f2937; color: #e5e7eb; }
#role { font-size: 12px; color: #9ca3af; }
main { padding: 16px 20px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card .n { font-size: 22px; font-weight: 600; }
.card .l { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { background: #eef0f4; font-weight: 600; font-size: 12px; color: #374151; }
td.num { font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.state { font-weight: 600; }
.state.running, .state.busy { color: var(--accent); }
.state.succeeded, .state.idle { color: var(--ok); }
.state.failed, .state.offline { color: var(--bad); }
.state.cancelled, .state.draining { color: var(--warn); }
.bar { width: 160px; height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; }
.bar > span { display: block; height: 100%; background: var(--accent); transition: width .3s; }
progress { width: 160px; }
img.thumb { width: 64px; height: 64px; image-rendering: pixelated; background: #e5e7eb; border: 1px solid var(--line); vertical-align: middle; }
img.big { max-width: 100%; width: 384px; image-rendering: pixelated; border: 1px solid var(--line); background: #e5e7eb; }
button { font: inherit; padding: 2px 10px; border-radius: 4px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
button.danger { border-color: #fca5a5; color: var(--bad); }
.admin { display: none; }
body.is-admin .admin { display: inline-block; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.tile img { width: 100%; image-rendering: pixelated; background: #e5e7eb; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; background: var(--card); border: 1px solid var(--line); padding: 8px 12px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; word-break: break-word; }
pre { background: #0f172a; color: #e2e8f0; padding: 10px; border-radius: 6px; overflow: auto; max-height: 320px; }
.two { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; }
.msg { padding: 6px 10px; border-radius: 4px; background: #fef3c7; margin: 8px 0; }
footer { padding: 8px 20px 20px; color: var(--muted); font-size: 12px; max-width: 1400px; margin: 0 auto; }
#live-entries { max-height: 120px; overflow: auto; font-family: ui-monospace, monospace; }
@media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
"""#
}
