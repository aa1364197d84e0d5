// Shoal's live dashboard: polls GET /admin/dashboard about once a second and draws it.
// Plain browser JavaScript (no build step), loaded after uPlot (both `defer`).
// Every text from the node goes in through textContent, never as HTML.
(function dashboard() {
  'use strict';

  const SNAPSHOT_URL = '/admin/dashboard';
  const POLL_MS_DEFAULT = 1000;
  /** Points of the page's own buffer history (the node keeps none for it). */
  const BUFFER_POINTS_MAX = 300;
  const TRANSFER_ROWS_MAX = 256;
  /** Every chart shows at least the last minute, and at most the last five as its data grows. */
  const CHART_WINDOW_S_MIN = 60;
  const CHART_WINDOW_S_MAX = 300;
  const X_SCALE = {
    time: true,
    range: (_u, min, max) => {
      const end = Number.isFinite(max) ? max : Date.now() / 1000;
      const span = Number.isFinite(min) ? end - min : 0;
      return [end - Math.min(CHART_WINDOW_S_MAX, Math.max(CHART_WINDOW_S_MIN, span)), end];
    },
  };
  /** Time ticks as hh:mm (hh:mm:ss between whole minutes), a minute or so apart: the axis spans minutes, never dates. */
  const X_AXIS = { space: 70, values: (_u, splits) => splits.map(timeTick) };

  function timeTick(seconds) {
    const text = new Date(seconds * 1000).toLocaleTimeString('en-GB');
    return text.endsWith(':00') ? text.slice(0, -3) : text;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  /** Distinguishable owner colours (Okabe-Ito first, then more). */
  const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#6a3d9a', '#8c564b', '#7f7f7f', '#bcbd22', '#17becf'];
  const ROUTE_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#6a3d9a', '#8c564b', '#7f7f7f', '#bcbd22'];
  const PERCENTILES = [
    { key: 'p50Ms', label: 'p50', colour: '#009e73' },
    { key: 'p99Ms', label: 'p99', colour: '#e69f00' },
    { key: 'p999Ms', label: 'p99.9', colour: '#d55e00' },
  ];

  const $ = (id) => document.getElementById(id);
  const state = {
    paused: false,
    timer: undefined,
    failures: 0,
    lastOkMs: 0,
    ringSize: 0,
    rpsChart: undefined,
    rpsKey: '',
    latencyChart: undefined,
    /** The route the user picked for the latency chart (until then the busiest key-value route is shown). */
    latencyRouteChosen: undefined,
    bufferChart: undefined,
    buffer: { times: [], objects: [], flushesPerS: [], lastFlushes: undefined, lastAtMs: undefined },
    snapshot: undefined,
  };

  // --- small helpers --------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes ?? {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function replaceRows(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function stats(dl, entries) {
    const nodes = [];
    for (const [term, value] of entries) nodes.push(el('dt', {}, term), el('dd', {}, value));
    dl.replaceChildren(...nodes);
  }

  function formatCount(n) {
    return Math.round(n).toLocaleString('en-US');
  }

  function formatBytes(bytes) {
    if (!(bytes >= 0)) return '–';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit++;
    }
    return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function formatAgo(sinceMs, nowMs) {
    if (sinceMs === null || sinceMs === undefined) return '–';
    return `${formatDuration((nowMs - sinceMs) / 1000)} ago`;
  }

  function formatMs(ms) {
    if (ms === null || ms === undefined) return '–';
    return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toPrecision(2)} ms`;
  }

  function percent(fraction) {
    return `${Math.round(fraction * 100)}%`;
  }

  /** Each member's colour: by its place among the ring's members, so every node's page agrees. */
  function colours(snapshot) {
    const ids = [...new Set([...snapshot.members.map((m) => m.id), ...snapshot.ring.owners, ...(snapshot.ring.targetOwners ?? [])])].sort();
    return new Map(ids.map((id, i) => [id, PALETTE[i % PALETTE.length]]));
  }

  // --- the ring -------------------------------------------------------------------------

  function arcPath(index, count, innerRadius, outerRadius) {
    const gap = count > 1 ? Math.min(0.01, Math.PI / count / 4) : 0;
    const start = (index / count) * 2 * Math.PI - Math.PI / 2 + gap;
    const end = ((index + 1) / count) * 2 * Math.PI - Math.PI / 2 - gap;
    const large = end - start > Math.PI ? 1 : 0;
    const point = (radius, angle) => `${(radius * Math.cos(angle)).toFixed(2)} ${(radius * Math.sin(angle)).toFixed(2)}`;
    if (count === 1) {
      return `M ${point(outerRadius, -Math.PI / 2)} A ${outerRadius} ${outerRadius} 0 1 1 ${point(outerRadius, 1.5 * Math.PI - 0.001)} Z M ${point(innerRadius, -Math.PI / 2)} A ${innerRadius} ${innerRadius} 0 1 0 ${point(innerRadius, 1.5 * Math.PI - 0.001)} Z`;
    }
    return `M ${point(outerRadius, start)} A ${outerRadius} ${outerRadius} 0 ${large} 1 ${point(outerRadius, end)} L ${point(innerRadius, end)} A ${innerRadius} ${innerRadius} 0 ${large} 0 ${point(innerRadius, start)} Z`;
  }

  function ensureRingPaths(count) {
    if (state.ringSize === count) return;
    state.ringSize = count;
    const serving = $('ring-serving');
    const target = $('ring-target');
    serving.replaceChildren();
    target.replaceChildren();
    for (let p = 0; p < count; p++) {
      serving.append(svgPath(arcPath(p, count, 80, 104)));
      target.append(svgPath(arcPath(p, count, 58, 76)));
    }
  }

  function svgPath(d) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    return path;
  }

  /** Per partition: 'moving' while any of its transfers is pending, 'moved' once all are done. */
  function partitionTransfers(change, count) {
    const byPartition = new Array(count).fill(undefined);
    if (change === null) return byPartition;
    for (const t of change.transfers) {
      const entry = byPartition[t.partition] ?? { pending: 0, done: 0, moves: [] };
      if (t.done) entry.done++;
      else entry.pending++;
      entry.moves.push(t);
      byPartition[t.partition] = entry;
    }
    return byPartition;
  }

  function renderRing(snapshot, palette) {
    const { ring, change } = snapshot;
    const count = ring.partitionCount;
    ensureRingPaths(count);
    const moves = partitionTransfers(change, count);
    const changing = ring.targetOwners !== null;
    const servingPaths = $('ring-serving').children;
    const targetPaths = $('ring-target').children;
    for (let p = 0; p < count; p++) {
      const owner = ring.owners[p];
      const servingPath = servingPaths[p];
      servingPath.setAttribute('fill', palette.get(owner) ?? '#999');
      setTitle(servingPath, `partition ${p}: ${owner}`);
      const targetPath = targetPaths[p];
      const move = moves[p];
      if (!changing) {
        targetPath.setAttribute('visibility', 'hidden');
        continue;
      }
      const next = ring.targetOwners[p];
      targetPath.setAttribute('visibility', 'visible');
      targetPath.setAttribute('fill', palette.get(next) ?? '#999');
      targetPath.setAttribute('class', move === undefined ? '' : move.pending > 0 ? 'moving' : 'moved');
      if (move !== undefined && move.pending > 0) targetPath.setAttribute('stroke', palette.get(move.moves.find((t) => !t.done).to) ?? '#000');
      else targetPath.removeAttribute('stroke');
      setTitle(targetPath, `partition ${p}: ${next} after the change${move === undefined ? '' : `, ${move.done} of ${move.done + move.pending} transfers done`}`);
    }
    const owners = new Set(ring.owners);
    $('ring-center-1').textContent = `${owners.size} owner${owners.size === 1 ? '' : 's'}`;
    $('ring-center-2').textContent = `Q ${count} · N ${ring.replicas} · v${ring.ringVersion}`;
    const changeText = change !== null && !change.settled ? ` A ${change.kind} of ${change.member} is in progress: ${change.transfersDone} of ${change.transfersTotal} transfers done.` : '';
    $('ring-svg-desc').textContent = `${count} partitions owned by ${[...owners].sort().join(', ')}.${changeText}`;
    renderLegend(snapshot, palette);
    renderRingTable(snapshot, moves);
  }

  function setTitle(path, text) {
    let title = path.firstChild;
    if (title === null) {
      title = document.createElementNS(SVG, 'title');
      path.append(title);
    }
    if (title.textContent !== text) title.textContent = text;
  }

  function renderLegend(snapshot, palette) {
    const items = snapshot.members.map((m) => {
      // The colour is an SVG fill, not an inline style (the page's policy allows none).
      const box = document.createElementNS(SVG, 'svg');
      box.setAttribute('class', 'swatch');
      box.setAttribute('viewBox', '0 0 10 10');
      box.setAttribute('aria-hidden', 'true');
      const rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('width', '10');
      rect.setAttribute('height', '10');
      rect.setAttribute('fill', palette.get(m.id) ?? '#999');
      box.append(rect);
      const target = snapshot.ring.targetOwners === null ? '' : ` → ${m.partitionsTarget}`;
      return el('li', {}, box, `${m.id}: ${m.partitions}${target}`);
    });
    $('ring-legend').replaceChildren(...items);
  }

  function renderRingTable(snapshot, moves) {
    const { ring } = snapshot;
    const rows = ring.owners.map((owner, p) => {
      const move = moves[p];
      const transfers = move === undefined ? '–' : move.moves.map((t) => `${t.from}→${t.to} ${t.done ? 'done' : 'pending'}`).join(', ');
      const next = ring.targetOwners === null ? owner : ring.targetOwners[p];
      return el('tr', { 'data-owner': owner, 'data-target-owner': next }, el('td', { class: 'num' }, p), el('td', {}, owner), el('td', {}, next), el('td', {}, transfers));
    });
    replaceRows($('ring-table').tBodies[0], rows);
  }

  // --- members, hints, buffer, repair, transfers ----------------------------------------------

  function renderMembers(snapshot) {
    const rows = snapshot.members.map((m) => {
      const seen = el('span', { class: `badge ${m.seenAs}` }, m.seenAs === 'self' ? 'this node' : m.seenAs);
      const partitions = snapshot.ring.targetOwners === null ? String(m.partitions) : `${m.partitions} → ${m.partitionsTarget}`;
      return el(
        'tr',
        { 'data-member': m.id, 'data-seen': m.seenAs },
        el('th', { scope: 'row' }, m.id, el('div', { class: 'subtle' }, m.address)),
        el('td', {}, seen),
        el('td', {}, m.seenAs === 'self' ? '–' : formatAgo(m.seenSinceMs, snapshot.generatedAtMs)),
        el('td', { class: 'num' }, formatMs(m.rttMs)),
        el('td', {}, m.memberStatus),
        el('td', { class: 'num' }, partitions),
        el('td', { class: 'num' }, formatCount(m.hintsHeld)),
      );
    });
    replaceRows($('members').tBodies[0], rows);
  }

  function renderHints(snapshot) {
    const { hints } = snapshot;
    const meter = $('hints-meter');
    meter.max = Math.max(1, hints.hintsMax);
    meter.value = hints.total;
    $('hints-total').textContent = `${formatCount(hints.total)} of ${formatCount(hints.hintsMax)}`;
    const targets = Object.entries(hints.byTarget).sort((a, b) => b[1] - a[1]);
    const rows = targets.length === 0 ? [el('tr', {}, el('td', { colspan: 2 }, 'None: every replica has its writes.'))] : targets.map(([target, count]) => el('tr', { 'data-target': target }, el('td', {}, target), el('td', { class: 'num' }, formatCount(count))));
    replaceRows($('hints').tBodies[0], rows);
    stats($('hints-stats'), [
      ['Handed back', formatCount(hints.delivered)],
      ['Failed deliveries', formatCount(hints.failures)],
    ]);
  }

  function renderBuffer(snapshot) {
    const { buffer } = snapshot;
    const meter = $('buffer-meter');
    meter.max = Math.max(1, buffer.bufferedObjectsMax);
    meter.value = buffer.bufferedObjects;
    $('buffer-occupancy').textContent = `${formatCount(buffer.bufferedObjects)} of ${formatCount(buffer.bufferedObjectsMax)} objects`;
    const history = state.buffer;
    let flushesPerS = null;
    if (history.lastFlushes !== undefined && snapshot.generatedAtMs > history.lastAtMs) {
      flushesPerS = Math.max(0, buffer.flushes - history.lastFlushes) / ((snapshot.generatedAtMs - history.lastAtMs) / 1000);
    }
    if (history.lastAtMs === undefined || snapshot.generatedAtMs > history.lastAtMs) {
      history.lastFlushes = buffer.flushes;
      history.lastAtMs = snapshot.generatedAtMs;
      history.times.push(snapshot.generatedAtMs / 1000);
      history.objects.push(buffer.bufferedObjects);
      history.flushesPerS.push(flushesPerS);
      if (history.times.length > BUFFER_POINTS_MAX) for (const series of [history.times, history.objects, history.flushesPerS]) series.shift();
    }
    stats($('buffer-stats'), [
      ['Waiting for a flush', formatCount(buffer.dirtyObjects)],
      ['In the flush now', buffer.flushing ? formatCount(buffer.flushingObjects) : 'none'],
      ['Writes waiting for room', formatCount(buffer.waitingWrites)],
      ['Flushes', `${formatCount(buffer.flushes)}${flushesPerS === null ? '' : ` (${flushesPerS.toFixed(1)}/s)`}`],
      ['Failed flushes in a row', formatCount(buffer.engineFailures)],
    ]);
    drawBufferChart();
  }

  function renderRepair(snapshot) {
    const ae = snapshot.antiEntropy;
    stats($('anti-entropy-stats'), [
      ['Anti-entropy', ae.enabled ? 'on' : 'off'],
      ['Exchanges', formatCount(ae.exchanges)],
      ['… found in sync', formatCount(ae.inSync)],
      ['… repaired', formatCount(ae.exchanges - ae.inSync - ae.failed)],
      ['… failed', formatCount(ae.failed)],
      ['Keys repaired', formatCount(ae.keysRepaired)],
      ['Bytes exchanged', formatBytes(ae.bytes)],
    ]);
    const ad = snapshot.admission;
    const meter = $('share-meter');
    meter.value = ad.share;
    $('share-value').textContent = ad.enabled ? percent(ad.share) : `${percent(ad.share)} (admission control off)`;
    stats($('admission-stats'), [
      ['Foreground p99', `${formatMs(ad.foregroundP99Ms)} (target ${formatMs(ad.p99TargetMs)})`],
      ['Times the share was cut', formatCount(ad.throttles)],
    ]);
  }

  function renderTransfers(snapshot) {
    const { change, transfers } = snapshot;
    const progress = $('change-progress');
    if (change === null) {
      $('change-summary').textContent = 'No membership change yet.';
      progress.max = 1;
      progress.value = 0;
    } else {
      const phase = change.settled ? 'settled' : 'in progress';
      $('change-summary').textContent = `${change.kind} of ${change.member} (${phase}): ${change.transfersDone} of ${change.transfersTotal} transfers done`;
      progress.max = Math.max(1, change.transfersTotal);
      progress.value = change.transfersDone;
    }
    $('change-summary').dataset.settled = String(change === null || change.settled);
    const cluster = transfers.cluster;
    const sent = cluster === null ? transfers.self.bytesSent : cluster.bytesSent;
    const rate = cluster === null ? transfers.self.bytesPerS : cluster.bytesPerS;
    const scope = cluster === null ? 'this node' : `${cluster.nodesAnswered} node${cluster.nodesAnswered === 1 ? '' : 's'}${cluster.nodesFailed > 0 ? `, ${cluster.nodesFailed} not answering` : ''}`;
    const changing = change !== null && !change.settled;
    stats($('transfer-stats'), [
      ['Sent', `${formatBytes(sent)}${transfers.estimateBytes === null ? '' : ` of about ${formatBytes(transfers.estimateBytes)}`} (${scope})`],
      ['Rate', changing ? `${formatBytes(rate)}/s` : '–'],
      ['Time left', changing ? formatDuration(transfers.etaS) : '–'],
      ['This node streams', `${transfers.self.active} now, ${transfers.self.pending} to go, ${formatCount(transfers.self.objectsSent)} objects sent`],
    ]);
    const list = change === null ? [] : [...change.transfers].sort((a, b) => Number(a.done) - Number(b.done) || a.partition - b.partition);
    const rows = list.slice(0, TRANSFER_ROWS_MAX).map((t) =>
      el('tr', { 'data-state': t.done ? 'done' : 'pending', 'data-to': t.to }, el('td', { class: 'num' }, t.partition), el('td', {}, t.from), el('td', {}, t.to), el('td', {}, t.done ? 'done' : 'moving')),
    );
    if (list.length > TRANSFER_ROWS_MAX) rows.push(el('tr', {}, el('td', { colspan: 4 }, `… and ${list.length - TRANSFER_ROWS_MAX} more`)));
    replaceRows($('transfers-list').tBodies[0], rows);
    const details = $('transfers-details');
    if (changing && !details.dataset.userToggled) details.open = true;
  }

  // --- charts ---------------------------------------------------------------------------

  function chartWidth(container) {
    return Math.max(200, Math.floor(container.getBoundingClientRect().width));
  }

  function makeChart(container, series, yAxis, extraScales, height) {
    const options = {
      width: chartWidth(container),
      height,
      scales: { x: X_SCALE, ...extraScales },
      series: [{}, ...series],
      axes: [X_AXIS, { label: yAxis, size: 50 }],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    const chart = new window.uPlot(options, [[], ...series.map(() => [])], container);
    return chart;
  }

  function latestNonNull(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }

  function renderRequests(snapshot) {
    const { requests } = snapshot;
    const routes = requests.routes;
    const container = $('chart-rps');
    const key = routes.map((r) => r.route).join('\n');
    if (state.rpsChart === undefined || state.rpsKey !== key) {
      state.rpsChart?.destroy();
      state.rpsChart = makeChart(container, routes.map((r, i) => ({ label: r.route, stroke: ROUTE_COLOURS[i % ROUTE_COLOURS.length], width: 1.5 })), 'requests/s', {}, 160);
      state.rpsKey = key;
    }
    state.rpsChart.setData([requests.times, ...routes.map((r) => r.perSecond)]);
    const points = routes.reduce((sum, r) => sum + r.perSecond.filter((n) => n > 0).length, 0);
    container.dataset.points = String(points);
    $('rps-summary').textContent = routes.length === 0 ? 'No requests in the last minutes.' : `Latest second: ${routes.map((r) => `${r.route} ${r.perSecond[r.perSecond.length - 1] ?? 0} per second`).join('; ')}.`;
    renderLatency(requests);
  }

  function renderRouteChoices(routes) {
    const select = $('latency-route');
    const names = routes.map((r) => r.route);
    const current = [...select.options].map((o) => o.value);
    if (current.join('\n') !== names.join('\n')) select.replaceChildren(...names.map((name) => el('option', { value: name }, name)));
    const wanted = names.includes(state.latencyRouteChosen) ? state.latencyRouteChosen : names.length > 0 ? defaultRoute(routes) : '';
    if (select.value !== wanted) select.value = wanted;
    return routes.find((r) => r.route === select.value);
  }

  /** The busiest key-value route, else the busiest route. */
  function defaultRoute(routes) {
    const total = (r) => r.perSecond.reduce((a, b) => a + b, 0);
    const kv = routes.filter((r) => r.route.includes('/kv'));
    const pool = kv.length > 0 ? kv : routes;
    return pool.reduce((best, r) => (total(r) > total(best) ? r : best)).route;
  }

  function renderLatency(requests) {
    const route = renderRouteChoices(requests.routes);
    const container = $('chart-latency');
    if (state.latencyChart === undefined) {
      const series = PERCENTILES.map((p) => ({ label: p.label, stroke: p.colour, width: 1.5, value: (_u, v) => (v === null || v === undefined ? '–' : `${v} ms`) }));
      state.latencyChart = makeChart(container, series, 'ms', { y: { distr: 3 } }, 160);
    }
    const empty = requests.times.map(() => null);
    const data = [requests.times, ...PERCENTILES.map((p) => (route === undefined ? empty : route[p.key]))];
    state.latencyChart.setData(data);
    const points = route === undefined ? 0 : route.p99Ms.filter((v) => v !== null).length;
    container.dataset.points = String(points);
    const summary = route === undefined ? 'No requests yet.' : `${route.route}, latest: ${PERCENTILES.map((p) => `${p.label} ${formatMs(latestNonNull(route[p.key]))}`).join(', ')}.`;
    $('latency-summary').textContent = summary;
    container.setAttribute('aria-label', `Latency percentiles p50, p99 and p99.9 of ${route === undefined ? 'no route yet' : route.route}`);
  }

  function drawBufferChart() {
    const container = $('chart-buffer');
    if (state.bufferChart === undefined) {
      const series = [
        { label: 'objects in the buffer', stroke: '#0072b2', width: 1.5, scale: 'objects' },
        { label: 'flushes/s', stroke: '#d55e00', width: 1.5, scale: 'flushes' },
      ];
      const chart = new window.uPlot(
        {
          width: chartWidth(container),
          height: 150,
          scales: { x: X_SCALE, objects: { auto: true }, flushes: { auto: true } },
          series: [{}, ...series],
          axes: [X_AXIS, { scale: 'objects', size: 50 }, { scale: 'flushes', side: 1, size: 40, grid: { show: false } }],
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
        },
        [[], [], []],
        container,
      );
      state.bufferChart = chart;
    }
    const history = state.buffer;
    state.bufferChart.setData([history.times, history.objects, history.flushesPerS]);
    container.dataset.points = String(history.times.length);
  }

  function resizeCharts() {
    for (const [chart, id] of [
      [state.rpsChart, 'chart-rps'],
      [state.latencyChart, 'chart-latency'],
      [state.bufferChart, 'chart-buffer'],
    ]) {
      if (chart !== undefined) chart.setSize({ width: chartWidth($(id)), height: chart.height });
    }
  }

  // --- polling --------------------------------------------------------------------------

  function render(snapshot) {
    state.snapshot = snapshot;
    const palette = colours(snapshot);
    $('node-id').textContent = snapshot.nodeId;
    document.title = `Shoal · ${snapshot.nodeId}`;
    $('cluster-line').textContent = `cluster ${snapshot.clusterName} · ${snapshot.state} · up ${formatDuration(snapshot.uptimeMs / 1000)}`;
    renderRing(snapshot, palette);
    renderMembers(snapshot);
    renderTransfers(snapshot);
    renderRequests(snapshot);
    renderBuffer(snapshot);
    renderHints(snapshot);
    renderRepair(snapshot);
    document.body.dataset.generatedAtMs = String(snapshot.generatedAtMs);
  }

  function setConnection(text, stale) {
    const connection = $('connection');
    if (connection.textContent !== text) connection.textContent = text;
    connection.classList.toggle('stale', stale);
  }

  async function poll() {
    state.timer = undefined;
    try {
      const response = await fetch(SNAPSHOT_URL, { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`the node answered ${response.status}`);
      const snapshot = await response.json();
      state.failures = 0;
      state.lastOkMs = Date.now();
      render(snapshot);
      setConnection(`Live · updated ${new Date(snapshot.generatedAtMs).toLocaleTimeString()}`, false);
    } catch (error) {
      state.failures++;
      const since = state.lastOkMs === 0 ? '' : ` (last update ${new Date(state.lastOkMs).toLocaleTimeString()})`;
      setConnection(`Cannot reach the node: ${error instanceof Error ? error.message : String(error)}${since}`, true);
    }
    schedule();
  }

  function schedule() {
    if (state.paused || state.timer !== undefined) return;
    const intervalMs = state.snapshot?.pollIntervalMs ?? POLL_MS_DEFAULT;
    // Back off while the node does not answer, up to ten intervals.
    state.timer = setTimeout(poll, intervalMs * Math.min(10, 1 + state.failures));
  }

  function start() {
    const pause = $('pause');
    pause.addEventListener('click', () => {
      state.paused = !state.paused;
      pause.setAttribute('aria-pressed', String(state.paused));
      pause.textContent = state.paused ? 'Resume updates' : 'Pause updates';
      if (state.paused) {
        clearTimeout(state.timer);
        state.timer = undefined;
        setConnection('Paused', false);
      } else {
        void poll();
      }
    });
    $('latency-route').addEventListener('change', (event) => {
      state.latencyRouteChosen = event.target.value;
      if (state.snapshot !== undefined) renderLatency(state.snapshot.requests);
    });
    const details = $('transfers-details');
    details.addEventListener('toggle', (event) => {
      if (event.isTrusted && document.activeElement === details.querySelector('summary')) details.dataset.userToggled = 'true';
    });
    let resizeTimer;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(resizeCharts, 150);
    });
    void poll();
  }

  start();
})();
