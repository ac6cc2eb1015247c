#!/usr/bin/env node
// tests/browser/play.mjs: plays a live HLS or DASH stream with a real player
// (hls.js or dash.js, from node_modules) in Debian's headless Chromium and
// writes what the viewer got as JSON, for the integration tests.
//
//   node tests/browser/play.mjs --player hls|dash --src URL --seconds N
//        --out result.json [--steering-off] [--mark FILE] [--block SUBSTR]...
//        [--start-timeout S] [--chromium PATH] [--verbose]
//
//   --seconds N       how long to play once playback has started; SIGTERM
//                     or SIGINT ends the run sooner (the JSON is written)
//   --steering-off    the player's content steering is off (hls.js: no
//                     contentSteeringController; dash.js:
//                     applyContentSteering false)
//   --mark FILE       written once playback starts, then every 0.5 s, as
//                     shell-friendly lines: start_ms= now_ms= host= pathway=
//                     segments= stalls= stall_ms= stalled= (0/1)
//   --block SUBSTR    requests whose URL contains SUBSTR fail as a refused
//                     connection (e.g. the steering server, to leave a player
//                     with its own pathway penalty)
//   --start-timeout S how long playback may take to start once the page has
//                     loaded (30 s)
//
// The JSON (times are epoch ms, *_s seconds):
//   player, player_version, chromium, src, steering (false with
//   --steering-off), blocked, page
//   launched_ms        Chromium launched
//   start_ms, startup_ms   first 'playing' of the video; since launched_ms
//   end_ms, played
//   stalls[]           {start_ms, end_ms, seconds, reason ('waiting' | 'no
//                      progress'), ended_by, buffer_ahead_s, empty, open}:
//                      after the first play, 'waiting' (or a picture that
//                      does not move for 1 s) until 'playing' or currentTime
//                      moves; empty: no more than 0.5 s was buffered ahead
//                      (the network's doing, not the machine's); open: still
//                      stalled at the end
//   stall_count, stall_seconds, empty_stall_count, empty_stall_seconds
//   segments[]         {t_ms, url, host (host:port: which pathway), pathway
//                      (PATHWAY-ID / serviceLocation), level, media, bytes,
//                      load_ms, sn (hls.js)}: every segment loaded
//   playlists[]        {t_ms, url, host, level, pathway}: media playlists
//                      (hls.js)
//   steering_requests[] {t_ms, url, query (the parameters the player sent),
//                      pathway_priority, ttl}: hls.js STEERING_MANIFEST_LOADED,
//                      dash.js CONTENT_STEERING_REQUEST_COMPLETED
//   first_host, first_pathway   of the first segment
//   first_other_pathway_ms, first_other_host   the first segment from
//                      another host (null: never)
//   pathway_changes[]  {t_ms, from, to, from_pathway, to_pathway}
//   errors[]           {t_ms, fatal, source, details, url, host, code, ...};
//                      fatal_errors counts the fatal ones
//   info[], console[]  player notes (versions, dash.js blacklists), the
//                      page's console errors and warnings
//   final              {current_time, paused, ready_state, buffered_ahead_s,
//                      dropped_frames} at the end
//
// It serves the page itself on 127.0.0.1 (an ephemeral port): /hls.html,
// /dash.html, /player.js from tests/browser/page/ and the player library as
// /lib/hls.js, /lib/dash.js. Times in the JSON are epoch milliseconds.
// Exit status: 0 played; 2 bad arguments; 3 the browser did not start;
// 4 the page never played (the JSON is written all the same).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = path.join(here, 'node_modules');

function die(code, msg) {
  process.stderr.write(`play.mjs: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  opts = parseArgs({
    options: {
      player: { type: 'string' },
      src: { type: 'string' },
      seconds: { type: 'string', default: '20' },
      out: { type: 'string' },
      'steering-off': { type: 'boolean', default: false },
      mark: { type: 'string' },
      block: { type: 'string', multiple: true, default: [] },
      'start-timeout': { type: 'string', default: '30' },
      chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
      verbose: { type: 'boolean', default: false },
    },
  }).values;
} catch (e) {
  die(2, e.message);
}
const kind = opts.player;
if (kind !== 'hls' && kind !== 'dash') die(2, '--player hls|dash');
if (!opts.src) die(2, '--src URL');
if (!opts.out) die(2, '--out FILE');
const seconds = Number(opts.seconds);
const startTimeout = Number(opts['start-timeout']);
if (!(seconds > 0) || !(startTimeout > 0)) die(2, '--seconds and --start-timeout take a number of seconds');
const verbose = opts.verbose;

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  die(3, `playwright-core not installed (npm ci --prefix ${here}): ${e.message}`);
}

// --- the page server -------------------------------------------------------

const files = {
  '/hls.html': [path.join(here, 'page/hls.html'), 'text/html'],
  '/dash.html': [path.join(here, 'page/dash.html'), 'text/html'],
  '/player.js': [path.join(here, 'page/player.js'), 'text/javascript'],
  // the page for people (samples/steering/player.html), for a look by hand
  '/player.html': [path.join(here, '../../samples/steering/player.html'), 'text/html'],
  '/lib/hls.js': [path.join(mods, 'hls.js/dist/hls.min.js'), 'text/javascript'],
  '/lib/dash.js': [path.join(mods, 'dashjs/dist/dash.all.min.js'), 'text/javascript'],
};

const server = http.createServer((req, res) => {
  const f = files[new URL(req.url, 'http://x').pathname];
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  fs.readFile(f[0], (err, data) => {
    if (err) {
      res.writeHead(500).end(String(err));
      return;
    }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' }).end(data);
  });
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const pageUrl = `http://127.0.0.1:${server.address().port}/${kind}.html?` +
  new URLSearchParams({ src: opts.src, steering: opts['steering-off'] ? '0' : '1' });

// --- the result ------------------------------------------------------------

const result = {
  player: kind,
  player_version: null,
  src: opts.src,
  steering: !opts['steering-off'],
  blocked: opts.block,
  page: pageUrl,
  chromium: null,
  launched_ms: null,
  start_ms: null,
  startup_ms: null,
  end_ms: null,
  played: false,
  stall_seconds: 0,
  stall_count: 0,
  empty_stall_seconds: 0,
  empty_stall_count: 0,
  stalls: [],
  first_host: null,
  first_pathway: null,
  first_other_pathway_ms: null,
  first_other_host: null,
  pathway_changes: [],
  segments: [],
  playlists: [],
  steering_requests: [],
  errors: [],
  fatal_errors: 0,
  info: [],
  console: [],
  final: null,
};
// a stall with no more than this buffered ahead ran out of media (the
// network's doing); one with more is the page or the decoder falling behind
const EMPTY_S = 0.5;
let openStall = null;
let lastSeg = null;

function onEvent(ev) {
  if (verbose) process.stderr.write(`play.mjs: ${JSON.stringify(ev)}\n`);
  switch (ev.type) {
    case 'play':
      if (!result.played) {
        result.played = true;
        result.start_ms = ev.t;
        result.startup_ms = ev.t - result.launched_ms;
      }
      break;
    case 'stall_start':
      openStall = { start_ms: ev.t, reason: ev.reason, current_time: ev.currentTime, buffer_ahead_s: ev.ahead };
      break;
    case 'stall_end':
      result.stalls.push({ start_ms: ev.start, end_ms: ev.t, seconds: ev.ms / 1000,
        reason: openStall ? openStall.reason : '', ended_by: ev.how, buffer_ahead_s: ev.ahead,
        empty: !(ev.ahead > EMPTY_S) });
      openStall = null;
      break;
    case 'segment': {
      const s = { t_ms: ev.t, url: ev.url, host: ev.host, pathway: ev.pathway, level: ev.level,
        media: ev.media, bytes: ev.bytes, load_ms: ev.ms };
      if (ev.sn !== undefined) s.sn = ev.sn;
      result.segments.push(s);
      if (!result.first_host) {
        result.first_host = ev.host;
        result.first_pathway = ev.pathway;
      } else if (ev.host !== result.first_host && result.first_other_pathway_ms === null) {
        result.first_other_pathway_ms = ev.t;
        result.first_other_host = ev.host;
      }
      if (lastSeg && lastSeg.host !== ev.host) {
        result.pathway_changes.push({ t_ms: ev.t, from: lastSeg.host, to: ev.host,
          from_pathway: lastSeg.pathway, to_pathway: ev.pathway });
      }
      lastSeg = ev;
      break;
    }
    case 'playlist':
      result.playlists.push({ t_ms: ev.t, url: ev.url, host: ev.host, level: ev.level, pathway: ev.pathway });
      break;
    case 'steering': {
      let query = {};
      try { query = Object.fromEntries(new URL(ev.url).searchParams); } catch (e) { /* keep {} */ }
      result.steering_requests.push({ t_ms: ev.t, url: ev.url, query, pathway_priority: ev.priority, ttl: ev.ttl });
      break;
    }
    case 'error': {
      const { type, t, ...rest } = ev;
      result.errors.push({ t_ms: t, ...rest });
      if (ev.fatal) result.fatal_errors++;
      break;
    }
    case 'info':
      if (ev.version) result.player_version = ev.version;
      result.info.push(ev);
      break;
    default:
      break;
  }
}

function finishStalls(now) {
  result.stalls_open = 0;
  if (openStall) {
    result.stalls.push({ start_ms: openStall.start_ms, end_ms: now, seconds: (now - openStall.start_ms) / 1000,
      reason: openStall.reason, ended_by: 'end of run', buffer_ahead_s: openStall.buffer_ahead_s,
      empty: !(openStall.buffer_ahead_s > EMPTY_S), open: true });
    result.stalls_open = 1;
    openStall = null;
  }
  const sum = (list) => Math.round(list.reduce((a, s) => a + s.seconds, 0) * 1000) / 1000;
  result.stall_count = result.stalls.length;
  result.stall_seconds = sum(result.stalls);
  const empty = result.stalls.filter((s) => s.empty);
  result.empty_stall_count = empty.length;
  result.empty_stall_seconds = sum(empty);
}

function writeMark(now) {
  if (!opts.mark || !result.played) return;
  const done = result.stalls.reduce((a, s) => a + s.seconds * 1000, 0);
  const stallMs = Math.round(done + (openStall ? now - openStall.start_ms : 0));
  const text = [
    `start_ms=${result.start_ms}`, `now_ms=${now}`,
    `host=${lastSeg ? lastSeg.host : ''}`, `pathway=${lastSeg ? lastSeg.pathway : ''}`,
    `segments=${result.segments.length}`, `stalls=${result.stalls.length + (openStall ? 1 : 0)}`,
    `stall_ms=${stallMs}`, `stalled=${openStall ? 1 : 0}`,
    `steering_requests=${result.steering_requests.length}`, `errors=${result.errors.length}`,
  ].join('\n') + '\n';
  fs.writeFileSync(opts.mark + '.tmp', text);
  fs.renameSync(opts.mark + '.tmp', opts.mark);
}

function writeResult() {
  fs.writeFileSync(opts.out + '.tmp', JSON.stringify(result, null, 1) + '\n');
  fs.renameSync(opts.out + '.tmp', opts.out);
}

// --- the browser -----------------------------------------------------------

if (!fs.existsSync(opts.chromium)) die(3, `no Chromium at ${opts.chromium} (apt-get install chromium)`);
let browser;
result.launched_ms = Date.now();
try {
  browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    timeout: 120000,   // a loaded machine takes tens of seconds
    // SIGTERM/SIGINT end the run here, JSON written; playwright's own
    // handlers would close the browser under the page first
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--autoplay-policy=no-user-gesture-required',
      '--mute-audio'],
  });
} catch (e) {
  server.close();
  die(3, `Chromium (${opts.chromium}) did not start: ${e.message.split('\n')[0]}`);
}
result.chromium = browser.version();
const context = await browser.newContext();
for (const sub of opts.block) {
  await context.route((u) => u.href.includes(sub), (route) => route.abort('connectionrefused'));
}
const page = await context.newPage();
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') {
    if (result.console.length < 200) result.console.push(`${Date.now()} ${m.type()}: ${m.text().slice(0, 400)}`);
    if (verbose) process.stderr.write(`play.mjs: console ${m.type()}: ${m.text()}\n`);
  }
});
page.on('pageerror', (e) => onEvent({ type: 'error', t: Date.now(), fatal: true, source: 'pageerror', details: e.message }));
page.on('crash', () => onEvent({ type: 'error', t: Date.now(), fatal: true, source: 'browser', details: 'page crashed' }));
await page.exposeFunction('hsReport', onEvent);

let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });

let code = 0;
try {
  await page.goto(pageUrl, { waitUntil: 'load', timeout: 60000 });
  const t0 = Date.now();
  while (!result.played && !stopping && Date.now() - t0 < startTimeout * 1000) await page.waitForTimeout(100);
  if (!result.played) {
    code = 4;
    process.stderr.write(`play.mjs: ${kind} never played ${opts.src} ${stopping ? 'before it was stopped' : `within ${startTimeout} s`}` +
      (result.errors.length ? `; last error: ${JSON.stringify(result.errors[result.errors.length - 1])}` : '') + '\n');
  } else {
    const until = result.start_ms + seconds * 1000;
    while (Date.now() < until && !stopping) {
      writeMark(Date.now());
      await page.waitForTimeout(Math.min(500, Math.max(1, until - Date.now())));
    }
  }
  result.end_ms = Date.now();
  result.final = await page.evaluate(() => {
    const v = document.getElementById('video');
    const b = v.buffered;
    return { current_time: v.currentTime, paused: v.paused, ready_state: v.readyState,
      buffered_ahead_s: b.length ? b.end(b.length - 1) - v.currentTime : 0,
      dropped_frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().droppedVideoFrames : null };
  }).catch((e) => ({ error: e.message }));
} catch (e) {
  if (!(stopping && result.played)) {
    code = 4;
    process.stderr.write(`play.mjs: ${e.message.split('\n')[0]}\n`);
  }
}
if (!result.end_ms) result.end_ms = Date.now();
finishStalls(result.end_ms);
writeMark(result.end_ms);
writeResult();
// a loaded machine may take half a minute to close Chromium gracefully; at
// exit playwright kills what is left
await Promise.race([browser.close().catch(() => {}), new Promise((ok) => setTimeout(ok, 5000))]);
server.close();
if (code === 0) {
  process.stderr.write(`play.mjs: ${kind} ${result.player_version} played ${(result.end_ms - result.start_ms) / 1000} s: ` +
    `${result.segments.length} segments, ${result.stall_count} stalls (${result.stall_seconds} s), ` +
    `${result.steering_requests.length} steering requests, ${result.errors.length} errors\n`);
}
process.exit(code);
