extension StatusPageAssets {
    /// `/ui/app.js`: renders the overview, job and batch pages from the JSON API and follows
    /// `/api/v1/stream`; every event it receives is listed in `#live-log` (counts in its `data-status-events`
    /// and `data-preview-events`), so a test can see live progress arrive without a reload. Text from jobs
    /// (prompts, errors) only ever goes into `textContent`.
    public static let script = #"""
'use strict';
// The hidiff status page: reads the JSON API, follows /api/v1/stream (server-sent events), no frameworks.
(function () {
  const pageID = Math.random().toString(36).slice(2, 10);
  const TOKEN_KEY = 'hidiff-api-token';
  const main = document.getElementById('main');
  const previews = new Map(); // job id -> {step, steps, src}

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const fmtRate = (r) => (r === null || r === undefined) ? '-' : Number(r).toFixed(2);
  const fmtBytes = (b) => b >= 1 << 30 ? (b / (1 << 30)).toFixed(1) + ' GiB' : (b / (1 << 20)).toFixed(0) + ' MiB';
  function ago(iso) {
    if (!iso) return '-';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    return s < 90 ? s.toFixed(0) + 's ago' : (s / 60).toFixed(0) + 'm ago';
  }
  const prompt = (job) => (job.request && typeof job.request === 'object' && job.request.prompt) || '';

  // The API token: typed by the user, kept in this tab's sessionStorage only.
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  function showRole() {
    const admin = token() !== '';
    document.body.classList.toggle('is-admin', admin);
    document.getElementById('role').textContent = admin ? 'admin' : 'read-only';
    document.getElementById('token-clear').hidden = !admin;
  }
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('token');
    if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    showRole();
  });
  document.getElementById('token-clear').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showRole(); });
  showRole();

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (opts.method === 'POST' && token()) opts.headers.Authorization = 'Bearer ' + token();
    const r = await fetch(path, opts);
    const text = await r.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
    if (!r.ok) throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
    return body;
  }
  function flash(text) {
    const m = el('div', { class: 'msg', role: 'status', text });
    main.prepend(m);
    setTimeout(() => m.remove(), 6000);
  }
  function adminButton(label, path, danger) {
    return el('button', { class: 'admin' + (danger ? ' danger' : ''), type: 'button', onclick: async (e) => {
      e.preventDefault();
      try { const r = await api(path, { method: 'POST' }); flash(label + ': ' + JSON.stringify(r)); }
      catch (err) { flash(label + ' refused: ' + err.message); }
    } }, label);
  }
  const jobButtons = (job) => [
    (job.state === 'queued' || job.state === 'running') && !job.cancel_requested ? adminButton('cancel', '/api/v1/jobs/' + job.id + '/cancel', true) : null,
    (job.state === 'failed' || job.state === 'cancelled') ? adminButton('retry', '/api/v1/jobs/' + job.id + '/retry') : null,
  ];
  // A progress bar; its width is set through the CSSOM (the page's Content-Security-Policy refuses style attributes).
  function bar(job) {
    const pct = job.steps > 0 ? Math.round(100 * job.step / job.steps) : (job.state === 'succeeded' ? 100 : 0);
    const fill = el('span');
    fill.style.width = pct + '%';
    return el('span', { class: 'bar', role: 'progressbar', 'aria-valuenow': job.step, 'aria-valuemax': job.steps,
      'data-job': job.id, title: job.step + '/' + job.steps }, fill);
  }
  // One image element per job, kept across re-renders so results load once and previews only change src.
  const thumbs = new Map();
  function thumb(job) {
    const p = previews.get(job.id);
    const kind = job.state === 'succeeded' ? 'result' : (p && job.state === 'running') ? 'preview' : null;
    if (!kind) return el('span', { class: 'muted' }, '-');
    let img = thumbs.get(job.id);
    if (!img || !img.classList.contains(kind)) {
      img = el('img', { class: 'thumb ' + kind, alt: kind + ' of job ' + job.id });
      if (kind === 'result') img.src = '/api/v1/jobs/' + job.id + '/result';
      thumbs.set(job.id, img);
    }
    if (kind === 'preview' && img.dataset.step !== String(p.step)) {
      img.src = p.src;
      img.dataset.step = p.step;
      img.alt = 'preview of job ' + job.id + ' at step ' + p.step;
    }
    return img;
  }
  const jobLink = (job) => el('a', { href: '/jobs/' + job.id }, '#' + job.id);
  const batchLink = (name) => name ? el('a', { href: '/batches/' + encodeURIComponent(name) }, name) : '-';

  // The live feed: records what it received into the page (#live-log) so tests and people can see it.
  function follow(onStatus, onPreview) {
    const log = document.getElementById('live-log');
    log.dataset.pageId = pageID;
    const entries = document.getElementById('live-entries');
    const live = document.getElementById('live');
    const source = new EventSource('/api/v1/stream');
    function note(kind, text) {
      const key = kind === 'status' ? 'statusEvents' : 'previewEvents';
      log.dataset[key] = String(Number(log.dataset[key]) + 1);
      document.getElementById('live-count').textContent = Number(log.dataset.statusEvents) + Number(log.dataset.previewEvents);
      entries.append(el('li', { class: 'live-' + kind, text }));
      while (entries.children.length > 400) entries.firstChild.remove();
    }
    source.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
    source.onerror = () => { live.textContent = 'reconnecting'; live.className = 'live off'; };
    source.addEventListener('status', (e) => {
      const s = JSON.parse(e.data);
      const running = s.jobs.filter((j) => j.state === 'running').map((j) => 'job ' + j.id + ' ' + j.step + '/' + j.steps);
      note('status', 'status ' + e.lastEventId + ': ' + (running.join(', ') || 'nothing running'));
      onStatus(s);
    });
    source.addEventListener('preview', (e) => {
      const p = JSON.parse(e.data);
      previews.set(p.job, { step: p.step, steps: p.steps, src: 'data:image/png;base64,' + p.png });
      note('preview', 'preview job ' + p.job + ' step ' + p.step + '/' + p.steps);
      if (onPreview) onPreview(p);
    });
    source.addEventListener('error', (e) => { if (e.data) note('status', 'error: ' + e.data); });
  }

  function crumbs(...parts) {
    const nav = document.getElementById('crumbs');
    nav.replaceChildren(...parts.map((p) => typeof p === 'string' ? el('span', { text: ' / ' + p }) : [el('span', { text: ' / ' }), p]).flat());
  }

  // Overview: queue, throughput, workers, jobs.
  function overview() {
    crumbs('status');
    let first = true;
    follow((s) => {
      const q = s.queue;
      const cards = el('div', { class: 'cards', id: 'queue' },
        ...['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((state) =>
          el('div', { class: 'card', 'data-state': state }, el('div', { class: 'n', text: q.countsByState[state] || 0 }), el('div', { class: 'l', text: state }))),
        el('div', { class: 'card' }, el('div', { class: 'n', text: q.completedLast1m + ' / ' + q.completedLast5m + ' / ' + q.completedLast15m }), el('div', { class: 'l', text: 'done in 1 / 5 / 15 min' })),
        el('div', { class: 'card' }, el('div', { class: 'n', text: fmtRate(q.stepsPerSecond) }), el('div', { class: 'l', text: 'steps/s, all workers' })),
        el('div', { class: 'card' }, el('div', { class: 'n', text: q.oldestQueuedAge == null ? '-' : q.oldestQueuedAge.toFixed(0) + 's' }), el('div', { class: 'l', text: 'oldest queued' })));
      const workers = el('table', { id: 'workers' },
        el('thead', {}, el('tr', {}, ...['worker', 'state', 'job', 'step', 'steps/s', 'memory', 'heartbeat', 'models', 'coordinator'].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...s.workers.map((w) => el('tr', { 'data-worker': w.name },
          el('td', { text: w.name }), el('td', { class: 'state ' + w.state, text: w.state }),
          el('td', {}, w.currentJob ? el('a', { href: '/jobs/' + w.currentJob }, '#' + w.currentJob) : '-'),
          el('td', { class: 'num', text: w.step == null ? '-' : w.step }), el('td', { class: 'num', text: fmtRate(w.stepsPerSecond) }),
          el('td', { class: 'num', text: fmtBytes(w.memoryBytes) }), el('td', { text: ago(w.lastHeartbeat) }),
          el('td', { text: w.models.join(', ') }), el('td', { text: w.coordinator || '-' })))));
      const jobs = el('table', { id: 'jobs' },
        el('thead', {}, el('tr', {}, ...['job', 'batch', 'state', 'progress', 'step', 'preview', 'workers', 'prompt', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...s.jobs.map((j) => el('tr', { 'data-job': j.id, 'data-state': j.state, 'data-step': j.step },
          el('td', {}, jobLink(j)), el('td', {}, batchLink(j.batch)), el('td', { class: 'state ' + j.state, text: j.state }),
          el('td', {}, bar(j)), el('td', { class: 'num', text: j.step + '/' + j.steps }), el('td', {}, thumb(j)),
          el('td', { text: (j.workers || []).join(', ') || '-' }), el('td', { text: prompt(j) }), el('td', {}, jobButtons(j))))));
      main.replaceChildren(el('h2', { text: 'Queue' }), cards, el('h2', { text: 'Workers' }), workers,
        el('h2', { text: 'Jobs' }), jobs);
      if (first) { first = false; document.title = 'hidiff cluster'; }
    }, (p) => {
      const row = document.querySelector('#jobs tr[data-job="' + p.job + '"][data-state="running"] td:nth-child(6)');
      if (row) row.replaceChildren(thumb({ id: p.job, state: 'running' }));
    });
  }

  // The latest checkpoint, else how many were taken (a finished job's is dropped).
  function checkpointText(checkpoint, events) {
    if (checkpoint) return 'step ' + checkpoint.step + ' (attempt ' + checkpoint.attempt + ', ' + checkpoint.bytes + ' bytes)';
    const taken = events.filter((e) => e.kind === 'checkpointed');
    if (taken.length === 0) return 'none';
    return taken.length + ' taken (last: ' + taken[taken.length - 1].detail + '); none kept once the job ended';
  }

  // One job: request, events, checkpoint, result with metadata; live while it runs.
  async function jobPage(id) {
    crumbs('job ' + id);
    let lastState = null;
    async function load() {
      let job;
      try { job = await api('/api/v1/jobs/' + id); } catch (err) { main.replaceChildren(el('p', { class: 'msg', text: err.message })); return; }
      lastState = job.state;
      const events = await api('/api/v1/jobs/' + id + '/events').catch(() => []);
      const checkpoint = await api('/api/v1/jobs/' + id + '/checkpoint').catch(() => null);
      const result = job.state === 'succeeded' ? await api('/api/v1/jobs/' + id + '/result?format=base64').catch(() => null) : null;
      const facts = el('dl', { class: 'kv', id: 'job-facts' },
        ...[['state', el('span', { class: 'state ' + job.state, id: 'job-state', text: job.state })],
          ['progress', el('span', {}, bar(job), ' ', el('span', { id: 'job-step', text: job.step + '/' + job.steps }))],
          ['batch', batchLink(job.batch)], ['model', job.model], ['attempt', job.attempt + ' of ' + job.max_attempts],
          ['workers', (job.workers || []).join(', ') || '-'], ['priority', job.priority], ['created', job.created_at],
          ['started', job.started_at || '-'], ['finished', job.finished_at || '-'], ['error', job.error || '-'],
          ['checkpoint', checkpointText(checkpoint, events)]]
          .map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]).flat());
      const picture = result
        ? el('figure', {}, el('img', { class: 'big result', id: 'job-image', alt: 'result of job ' + id, src: 'data:image/png;base64,' + result.png }),
          el('figcaption', { class: 'muted', text: 'result' }))
        : el('figure', {}, el('img', { class: 'big preview', id: 'job-image', alt: 'preview of job ' + id, src: previews.has(Number(id)) ? previews.get(Number(id)).src : '' }),
          el('figcaption', { class: 'muted', id: 'job-caption', text: 'latent preview (updates while it runs)' }));
      const history = el('table', { id: 'events' }, el('thead', {}, el('tr', {}, ...['time', 'event', 'attempt', 'worker', 'detail'].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...events.map((e) => el('tr', {}, el('td', { text: e.at }), el('td', { text: e.kind }), el('td', { text: e.attempt }),
          el('td', { text: e.worker || '-' }), el('td', { text: e.detail })))));
      main.replaceChildren(el('h2', {}, 'Job #' + id + ' ', jobButtons(job)),
        el('div', { class: 'two' }, el('div', {}, facts, el('h2', { text: 'Request' }), el('pre', { id: 'job-request', text: JSON.stringify(job.request, null, 2) })),
          el('div', {}, picture, result ? [el('h2', { text: 'Metadata' }), el('pre', { id: 'job-metadata', text: JSON.stringify(result.metadata, null, 2) })] : null)),
        el('h2', { text: 'Events' }), history);
    }
    await load();
    follow((s) => {
      const j = s.jobs.find((x) => String(x.id) === String(id));
      if (!j) return;
      if (j.state !== lastState) { load(); return; }
      const step = document.getElementById('job-step');
      if (step) step.textContent = j.step + '/' + j.steps;
      const b = document.querySelector('#job-facts .bar > span');
      if (b && j.steps > 0) b.style.width = Math.round(100 * j.step / j.steps) + '%';
    }, (p) => {
      if (String(p.job) !== String(id)) return;
      const img = document.getElementById('job-image');
      if (img && img.classList.contains('preview')) img.src = previews.get(p.job).src;
      const c = document.getElementById('job-caption');
      if (c) c.textContent = 'latent preview at step ' + p.step + '/' + p.steps;
    });
  }

  // A batch: a grid of its images (results, or previews while they run).
  async function batchPage(name) {
    crumbs('batch ' + name);
    let last = 0;
    async function load() {
      last = Date.now();
      let jobs;
      try { jobs = await api('/api/v1/jobs?batch=' + encodeURIComponent(name)); } catch (err) { main.replaceChildren(el('p', { class: 'msg', text: err.message })); return; }
      const done = jobs.filter((j) => j.state === 'succeeded').length;
      main.replaceChildren(el('h2', {}, 'Batch ' + name + ': ' + done + ' of ' + jobs.length + ' done ',
        jobs.some((j) => j.state === 'queued' || j.state === 'running') ? adminButton('cancel batch', '/api/v1/batches/' + encodeURIComponent(name) + '/cancel', true) : null),
        el('div', { class: 'grid', id: 'batch-grid' }, ...jobs.map((j) => el('div', { class: 'tile', 'data-job': j.id, 'data-state': j.state },
          j.state === 'succeeded' ? el('img', { class: 'result', alt: 'job ' + j.id, src: '/api/v1/jobs/' + j.id + '/result' })
            : previews.has(j.id) ? el('img', { class: 'preview', alt: 'preview of job ' + j.id, src: previews.get(j.id).src }) : el('div', { class: 'muted', text: 'no image yet' }),
          el('div', {}, jobLink(j), ' ', el('span', { class: 'state ' + j.state, text: j.state }), ' ', bar(j)),
          el('div', { class: 'muted', text: 'seed ' + (j.request && j.request.seed) + ': ' + prompt(j) }), el('div', {}, jobButtons(j))))));
    }
    await load();
    follow((s) => { if (Date.now() - last > 1500 && s.jobs.some((j) => j.batch === name)) load(); });
  }

  const path = location.pathname;
  if (path.startsWith('/jobs/')) jobPage(decodeURIComponent(path.slice(6)));
  else if (path.startsWith('/batches/')) batchPage(decodeURIComponent(path.slice(9)));
  else overview();
})();
"""#
}
