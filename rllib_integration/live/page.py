"""The live view's page: HTML, CSS and JavaScript in one document, nothing fetched from elsewhere.

It asks ``/state.json`` five times a second while it is visible (a hidden tab asks nothing, so the run
stops drawing pictures for it), shows ``/frame.jpg`` when a new picture arrived, the numbers of the newest
state, the experiment's own numbers (reward terms, totals) in a table, and the run's curve on a canvas.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rllib-integration live view</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 16px; background: #1e1f22; color: #e8e8e8; }
  h1 { font-size: 18px; margin: 0 0 12px; }
  .row { display: flex; gap: 16px; flex-wrap: wrap; }
  .panel { background: #2b2d31; border-radius: 6px; padding: 12px; }
  img { width: 480px; height: 480px; background: #111; display: block; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td { padding: 2px 10px 2px 0; }
  td.value { text-align: right; font-weight: 600; }
  #curve { background: #111; }
  .muted { color: #9a9a9a; font-size: 12px; }
  #infractions { color: #ff8a80; }
</style>
</head>
<body>
<h1 id="title">rllib-integration</h1>
<div class="row">
  <div class="panel">
    <img id="frame" alt="waiting for the first picture">
    <div class="muted">pictures received: <span id="frames">0</span></div>
  </div>
  <div class="panel">
    <table>
      <tr><td>episode</td><td class="value" id="episode">-</td></tr>
      <tr><td>step</td><td class="value" id="step">-</td></tr>
      <tr><td>speed (km/h)</td><td class="value" id="speed">-</td></tr>
      <tr><td>throttle</td><td class="value" id="throttle">-</td></tr>
      <tr><td>steer</td><td class="value" id="steer">-</td></tr>
      <tr><td>brake</td><td class="value" id="brake">-</td></tr>
      <tr><td>reward</td><td class="value" id="reward">-</td></tr>
      <tr><td>return</td><td class="value" id="return">-</td></tr>
      <tr><td>route completion (%)</td><td class="value" id="route">-</td></tr>
      <tr><td>last end</td><td class="value" id="end">-</td></tr>
    </table>
    <p id="infractions"></p>
    <p class="muted">the experiment's numbers</p>
    <table id="terms"></table>
  </div>
  <div class="panel">
    <div id="curve-title" class="muted">curve</div>
    <canvas id="curve" width="420" height="260"></canvas>
  </div>
</div>
<script>
"use strict";
let shownFrames = -1;
const fmt = (v, digits) => (typeof v === "number" && isFinite(v)) ? v.toFixed(digits) : (v === undefined ? "-" : String(v));
function set(id, v, digits) { document.getElementById(id).textContent = fmt(v, digits); }
function drawCurve(points) {
  const canvas = document.getElementById("curve"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!points.length) return;
  const keys = Object.keys(points[points.length - 1]).filter(k => k !== "x" && typeof points[points.length - 1][k] === "number");
  document.getElementById("curve-title").textContent = "curve: " + keys.join(", ") + " against " + (points[0].x_label || "x");
  const xs = points.map(p => p.x), xMin = Math.min(...xs), xMax = Math.max(...xs, xMin + 1e-9);
  const colours = ["#8ab4f8", "#81c995", "#fdd663", "#f28b82", "#c58af9"];
  keys.forEach((key, n) => {
    const ys = points.map(p => p[key]).filter(v => typeof v === "number" && isFinite(v));
    if (!ys.length) return;
    const yMin = Math.min(...ys), yMax = Math.max(...ys, yMin + 1e-9);
    ctx.strokeStyle = colours[n % colours.length]; ctx.lineWidth = 2; ctx.beginPath();
    points.forEach((p, i) => {
      if (typeof p[key] !== "number") return;
      const x = 10 + (canvas.width - 20) * (p.x - xMin) / (xMax - xMin);
      const y = canvas.height - 20 - (canvas.height - 40) * (p[key] - yMin) / (yMax - yMin);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle; ctx.font = "12px sans-serif";
    ctx.fillText(key + " " + fmt(ys[ys.length - 1], 1), 10, 14 + 14 * n);
  });
}
async function poll() {
  if (document.hidden) return;
  try {
    const data = await (await fetch("/state.json", {cache: "no-store"})).json();
    document.getElementById("title").textContent = data.title;
    const s = data.state || {};
    set("episode", s.episode, 0); set("step", s.step, 0); set("speed", s.speed_kmh, 1);
    set("throttle", s.throttle, 2); set("steer", s.steer, 2); set("brake", s.brake, 2);
    set("reward", s.reward, 3); set("return", s["return"], 2); set("route", s.route_completion, 1);
    set("end", s.last_end, 0);
    document.getElementById("infractions").textContent = (s.infractions && s.infractions.length) ? "infractions: " + s.infractions.join(", ") : "";
    const terms = document.getElementById("terms");
    terms.innerHTML = "";
    Object.entries(s.info || {}).forEach(([k, v]) => {
      const row = terms.insertRow(); row.insertCell().textContent = k;
      const cell = row.insertCell(); cell.className = "value"; cell.textContent = fmt(v, 3);
    });
    if (data.frames !== shownFrames) {
      shownFrames = data.frames;
      document.getElementById("frames").textContent = data.frames;
      if (data.frames > 0) document.getElementById("frame").src = "/frame.jpg?n=" + data.frames;
    }
    drawCurve(data.curve || []);
  } catch (error) { document.getElementById("title").textContent = "the run has ended (or not started)"; }
}
setInterval(poll, 200); poll();
</script>
</body>
</html>
"""
