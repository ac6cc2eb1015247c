// tests/browser/page/player.js: plays a live stream with hls.js or dash.js
// in the page's <video> and records what a viewer gets, for
// tests/browser/play.mjs (hls.html, dash.html load it after the library).
//
//   hsStart(kind, src, {steering})   kind 'hls' | 'dash'
//
// Every observation is an event {type, t (epoch ms), ...} sent to
// window.hsReport (play.mjs exposes it) and kept in window.hsEvents:
//   play        the first 'playing' of the video element
//   stall_start / stall_end   'waiting' (or no progress for 1 s) after the
//               first play, until 'playing' or currentTime moves again;
//               ahead: the media buffered ahead when it began (s)
//   segment     a media segment loaded: url, level, pathway, type, bytes, ms
//   playlist    a media playlist (hls.js) loaded: url, level, pathway
//   steering    a steering manifest loaded: url, priority, ttl
//   error       a player error: fatal, type, details, url, code
//   info        anything else worth a line (versions, blacklists)
'use strict';

window.hsEvents = [];

function hsEmit(ev) {
  ev.t = Date.now();
  window.hsEvents.push(ev);
  if (typeof window.hsReport === 'function') window.hsReport(ev);
  hsShow(ev);
}

const hsView = { pathway: '-', host: '-', stalls: 0, stallMs: 0, segments: 0 };

function hsShow(ev) {
  if (ev.type === 'segment') {
    hsView.segments++;
    hsView.host = ev.host;
    hsView.pathway = ev.pathway || '-';
  } else if (ev.type === 'stall_end') {
    hsView.stalls++;
    hsView.stallMs += ev.ms;
  }
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = `pathway ${hsView.pathway} (${hsView.host}), ` +
    `${hsView.segments} segments, ${hsView.stalls} stalls ` +
    `(${(hsView.stallMs / 1000).toFixed(1)} s); last: ${ev.type}`;
  const log = document.getElementById('log');
  if (log && ev.type !== 'segment') {
    log.textContent = `${new Date(ev.t).toISOString().slice(11, 23)} ` +
      JSON.stringify(ev) + '\n' + log.textContent.slice(0, 4000);
  }
}

function hsHost(url) {
  try { return new URL(url, location.href).host; } catch (e) { return ''; }
}

// seconds of media buffered ahead of the play position
function hsAhead(video) {
  const b = video.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= video.currentTime + 0.05 && video.currentTime < b.end(i)) {
      return Math.round((b.end(i) - video.currentTime) * 1000) / 1000;
    }
  }
  return 0;
}

// The video element's side: play, stalls.
function hsWatchVideo(video) {
  let played = false;
  let stall = null;        // {start, at: currentTime when it began}
  let lastTime = -1;
  let lastMove = Date.now();
  const endStall = (how) => {
    if (!stall) return;
    const now = Date.now();
    lastMove = now;   // a frozen picture from here on is a new stall
    hsEmit({ type: 'stall_end', start: stall.start, ms: now - stall.start, how, ahead: stall.ahead });
    stall = null;
  };
  video.addEventListener('playing', () => {
    if (!played) {
      played = true;
      hsEmit({ type: 'play', currentTime: video.currentTime });
    }
    endStall('playing');
  });
  video.addEventListener('waiting', () => {
    if (played && !stall) {
      stall = { start: Date.now(), at: video.currentTime, ahead: hsAhead(video) };
      hsEmit({ type: 'stall_start', reason: 'waiting', currentTime: video.currentTime, ahead: stall.ahead });
    }
  });
  video.addEventListener('timeupdate', () => {
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      lastMove = Date.now();
    }
    if (stall && video.currentTime > stall.at + 0.1 && !video.paused &&
        video.readyState >= 3) endStall('timeupdate');
  });
  // a video that stops moving without a 'waiting' is stalled as well
  setInterval(() => {
    if (!played || video.paused || stall) return;
    if (Date.now() - lastMove > 1000) {
      stall = { start: lastMove, at: video.currentTime, ahead: hsAhead(video) };
      hsEmit({ type: 'stall_start', reason: 'no progress', currentTime: video.currentTime, ahead: stall.ahead });
    }
  }, 250);
  video.addEventListener('error', () => {
    const e = video.error;
    hsEmit({ type: 'error', fatal: true, source: 'video', details: e ? `${e.code} ${e.message}` : '?' });
  });
}

function hsStartHls(video, src, steering) {
  const config = { enableWorker: true, lowLatencyMode: false };
  if (!steering) config.contentSteeringController = null;
  const hls = new Hls(config);
  window.hsHls = hls;
  const E = Hls.Events;
  hsEmit({ type: 'info', player: 'hls.js', version: Hls.version, steering: !!steering });
  const pathwayOf = (level) => {
    const l = hls.levels && hls.levels[level];
    return l ? (l.attrs && l.attrs['PATHWAY-ID']) || l.pathwayId || '' : '';
  };
  hls.on(E.FRAG_LOADED, (ev, d) => {
    const f = d.frag;
    const st = f.stats || d.frag.stats || {};
    hsEmit({
      type: 'segment', url: f.url, host: hsHost(f.url), level: f.level, sn: f.sn,
      pathway: pathwayOf(f.level), media: f.type, bytes: st.total || st.loaded || 0,
      ms: st.loading ? Math.round(st.loading.end - st.loading.start) : null,
    });
  });
  hls.on(E.LEVEL_LOADED, (ev, d) => {
    hsEmit({ type: 'playlist', url: d.details.url, host: hsHost(d.details.url), level: d.level, pathway: pathwayOf(d.level) });
  });
  hls.on(E.STEERING_MANIFEST_LOADED, (ev, d) => {
    const m = d.steeringManifest || {};
    hsEmit({ type: 'steering', url: d.url, priority: m['PATHWAY-PRIORITY'] || null, ttl: m.TTL, manifest: m });
  });
  hls.on(E.LEVELS_UPDATED, (ev, d) => {
    hsEmit({ type: 'info', what: 'levels updated', pathways: d.levels.map((l) => l.pathwayId) });
  });
  hls.on(E.ERROR, (ev, d) => {
    const url = (d.frag && d.frag.url) || (d.context && d.context.url) || d.url || '';
    hsEmit({
      type: 'error', fatal: !!d.fatal, source: d.type, details: d.details, url, host: hsHost(url),
      code: d.response ? d.response.code : null,
      action: d.errorAction ? d.errorAction.action : null,
      message: d.error ? String(d.error.message || d.error) : '',
    });
  });
  hls.attachMedia(video);
  hls.loadSource(src);
  video.muted = true;
  video.play().catch(() => {});
}

function hsStartDash(video, src, steering) {
  const player = dashjs.MediaPlayer().create();
  window.hsDash = player;
  const E = dashjs.MediaPlayer.events;
  player.updateSettings({ debug: { logLevel: 1 }, streaming: { applyContentSteering: !!steering } });
  hsEmit({ type: 'info', player: 'dash.js', version: player.getVersion(), steering: !!steering });
  player.on(E.FRAGMENT_LOADING_COMPLETED, (e) => {
    const r = e.request || {};
    if (e.error) {
      hsEmit({ type: 'error', fatal: false, source: 'segment', details: `load failed: ${e.error.code || ''} ${e.error.message || ''}`.trim(),
        url: r.url, host: hsHost(r.url), pathway: r.serviceLocation || '', code: e.error.code || null });
      return;
    }
    hsEmit({
      type: 'segment', url: r.url, host: hsHost(r.url), level: r.quality, pathway: r.serviceLocation || '',
      media: r.mediaType + (r.type === 'InitializationSegment' ? ' init' : ''),
      bytes: r.bytesTotal || (e.response ? e.response.byteLength : 0),
      ms: r.requestEndDate && r.requestStartDate ? r.requestEndDate - r.requestStartDate : null,
    });
  });
  player.on(E.CONTENT_STEERING_REQUEST_COMPLETED, (e) => {
    const d = e.currentSteeringResponseData || {};
    hsEmit({ type: 'steering', url: e.url, priority: d.pathwayPriority || null, ttl: d.ttl,
      reloadUri: d.reloadUri || null });
  });
  player.on(E.ERROR, (e) => {
    // dash.js has no fatal flag: a segment that failed to download (27
    // content, 28 init) is one it retries or fails over from
    const er = e.error || {};
    hsEmit({ type: 'error', fatal: er.code !== 27 && er.code !== 28, source: 'dash',
      details: `${er.code} ${er.message || ''}`, code: er.code || null });
  });
  player.on(E.PLAYBACK_ERROR, (e) => {
    hsEmit({ type: 'error', fatal: true, source: 'playback', details: String(e.error && (e.error.message || e.error)) });
  });
  // internal bus events, by name: a service location put aside after errors
  player.on('serviceLocationBlacklistAdd', (e) => {
    hsEmit({ type: 'info', what: 'blacklisted', entry: e && (e.entry || e) });
  });
  player.on(E.BASE_URLS_UPDATED, () => hsEmit({ type: 'info', what: 'base urls updated' }));
  video.muted = true;
  player.initialize(video, src, true);
}

function hsStart(kind, src, opts) {
  const video = document.getElementById('video');
  video.muted = true;
  hsWatchVideo(video);
  const steering = !opts || opts.steering !== false;
  try {
    if (kind === 'dash') hsStartDash(video, src, steering);
    else hsStartHls(video, src, steering);
  } catch (e) {
    hsEmit({ type: 'error', fatal: true, source: 'page', details: String(e && e.stack || e) });
  }
}

// hls.html?src=URL&steering=0
function hsStartFromQuery(kind) {
  const q = new URLSearchParams(location.search);
  const src = q.get('src');
  if (!src) {
    hsEmit({ type: 'error', fatal: true, source: 'page', details: 'no ?src=URL' });
    return;
  }
  hsStart(kind, src, { steering: q.get('steering') !== '0' });
}
