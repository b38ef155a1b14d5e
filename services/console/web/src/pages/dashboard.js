// pages/dashboard.js - monitoring: totals, KIM activity and coverage of a
// region, drill-down national -> province -> kabupaten/kota -> kecamatan,
// a daily trend and per-type chart (chart.js), backlog and time to decision
// per child region, and export links (streamed through the console).
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement,
  LinearScale, PointElement, Tooltip,
} from 'chart.js';
import { get, qs, session } from '../api.js';
import { clear, errorBox, field, h, loading, select } from '../dom.js';
import {
  LEVELS, TYPES, duration, isoDay, label, levelOf, lineage, num, pct, regionLabel, regionName,
  regionNames, zoneOf,
} from '../fmt.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement,
  PointElement, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, sans-serif';

const COLORS = { submitted: '#2563eb', approved: '#15803d', rejected: '#b91c1c', pending: '#b45309' };
const RANGES = [['7', '7 hari'], ['30', '30 hari'], ['90', '90 hari']];
let rangeDays = '30';

// The calls of the dashboard on screen; aborted when it is left, so a quick
// drill-down does not leave its trend and percentile calls running.
let current = new AbortController();

function dashFn(signal) {
  return (region, from, to) => get(`/api/report/dashboard${qs({ region: region || 'ID', from, to })}`, signal);
}

// Runs fn over items with at most n in flight, until signal aborts.
async function pool(items, n, signal, fn) {
  let i = 0;
  const worker = async () => { while (i < items.length && !signal.aborted) { const k = i++; await fn(items[k], k); } };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

function stat(id, title, value, sub) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-title', id: `${id}-l` }, title),
    h('strong', { id, 'aria-labelledby': `${id}-l` }, value), sub ? h('small', {}, sub) : null);
}

function breadcrumbs(code) {
  const scope = session.me.region_prefix || '';
  const trail = lineage(code).filter((c) => c.startsWith(scope) || scope.startsWith(c))
    .filter((c) => c.length >= scope.length);
  if (trail.length < 2) return null;
  return h('nav', { class: 'crumbs', 'aria-label': 'Tingkat wilayah' }, h('ol', {}, trail.map((c, i) =>
    h('li', {}, i === trail.length - 1
      ? h('span', { 'aria-current': 'page' }, c ? regionName(c) || c : 'Nasional')
      : h('a', { href: `#/pantau/${c}` }, c ? regionName(c) || c : 'Nasional')))));
}

function chart(canvas, type, labels, datasets, opts = {}) {
  return new Chart(canvas, {
    type,
    data: { labels, datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: 'bottom' } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      ...opts,
    },
  });
}

function chartBox(title, id) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': title });
  return [h('section', { class: 'card chart' }, h('h2', {}, title), h('div', { class: 'chart-wrap' }, canvas)), canvas];
}

async function trend(dash, signal, canvas, code, days, tz, charts) {
  const n = Math.min(days, 14);
  const dayList = Array.from({ length: n }, (_, i) => isoDay(n - 1 - i, tz));
  const rows = new Array(n);
  await pool(dayList, 4, signal, async (d, k) => { rows[k] = (await dash(code, d, d)).totals; });
  if (signal.aborted) return;
  const ds = ['submitted', 'approved', 'rejected'].map((key) => ({
    label: { submitted: 'Dikirim', approved: 'Disetujui', rejected: 'Ditolak' }[key],
    data: rows.map((r) => r[key]), borderColor: COLORS[key], backgroundColor: COLORS[key], tension: 0.2,
  }));
  charts.push(chart(canvas, 'line', dayList.map((d) => d.slice(5).split('-').reverse().join('/')), ds));
  canvas.dataset.ready = 'true';
}

function childrenTable(dash, signal, d, code, from, to) {
  const drill = levelOf(code) < 3;
  const tbody = h('tbody', {});
  const cells = new Map();
  for (const c of d.children) {
    const p50 = h('td', { 'data-label': 'Waktu keputusan p50', class: 'num' }, '…');
    cells.set(c.code, p50);
    tbody.append(h('tr', {},
      h('th', { scope: 'row' }, drill ? h('a', { href: `#/pantau/${c.code}` }, c.name || c.code) : (c.name || c.code)),
      h('td', { 'data-label': 'Dikirim', class: 'num' }, num(c.submitted)),
      h('td', { 'data-label': 'Disetujui', class: 'num' }, num(c.approved)),
      h('td', { 'data-label': 'Ditolak', class: 'num' }, num(c.rejected)),
      h('td', { 'data-label': 'Menunggu', class: 'num' + (c.pending > 0 ? ' warn' : '') }, num(c.pending)),
      p50));
  }
  // time to decision per child: its own dashboard (cached by simpul-report)
  const busy = d.children.filter((c) => c.approved + c.rejected > 0).slice(0, 40);
  for (const c of d.children) if (!busy.includes(c)) cells.get(c.code).textContent = '—';
  pool(busy, 3, signal, async (c) => {
    try {
      const r = await dash(c.code, from, to);
      cells.get(c.code).textContent = `${duration(r.totals.decision_p50_s)} / ${duration(r.totals.decision_p90_s)}`;
    } catch { cells.get(c.code).textContent = '?'; }
  });
  return h('table', { class: 'plain', 'aria-label': `Wilayah di bawah ${regionLabel(code)}` },
    h('thead', {}, h('tr', {}, [LEVELS[levelOf(code) + 1] || 'Wilayah', 'Dikirim', 'Disetujui', 'Ditolak',
      'Menunggu', 'Keputusan p50 / p90'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))), tbody);
}

export async function renderDashboard(main, [arg]) {
  current.abort(); // a previous dashboard still loading
  const ctl = new AbortController();
  current = ctl;
  const { signal } = ctl;
  const dash = dashFn(signal);
  const stop = () => ctl.abort();
  const scope = session.me.region_prefix || '';
  const code = arg && arg.startsWith(scope) ? arg : scope;
  const tz = zoneOf(code).tz;
  const to = isoDay(0, tz);
  const from = isoDay(Number(rangeDays) - 1, tz);
  const charts = [];
  await regionNames(lineage(code).filter(Boolean));
  if (signal.aborted) return stop;
  main.append(h('div', { class: 'page-head' },
    h('h1', {}, `Pemantauan · ${code ? regionName(code) || code : 'Nasional'}`), breadcrumbs(code)));
  const range = select('range', RANGES, rangeDays, { id: 'range' });
  range.addEventListener('change', () => { rangeDays = range.value; window.dispatchEvent(new HashChangeEvent('hashchange')); });
  const exportQ = qs({ region: code || 'ID', from, to });
  main.append(h('div', { class: 'toolbar' }, field('Rentang', range),
    h('span', { class: 'hint' }, `${from} s.d. ${to} (${zoneOf(code).abbr})`),
    h('span', { class: 'exports' }, 'Ekspor: ',
      h('a', { href: `/api/report/export${exportQ}&format=csv`, download: `simpul-${code || 'ID'}-${from}-${to}.csv` }, 'CSV'), ' · ',
      h('a', { href: `/api/report/export${exportQ}&format=ndjson`, download: `simpul-${code || 'ID'}-${from}-${to}.ndjson` }, 'NDJSON'))));
  const body = h('div', {}, loading());
  main.append(body);
  let d;
  try { d = await dash(code, from, to); } catch (e) {
    if (e.name !== 'AbortError') clear(body).append(errorBox(e));
    return stop;
  }
  const t = d.totals;
  const k = d.kims || {};
  clear(body).append(
    h('section', { class: 'stats', 'aria-label': 'Ringkasan' },
      stat('tot-submitted', 'Dikirim', num(t.submitted)),
      stat('tot-approved', 'Disetujui', num(t.approved)),
      stat('tot-rejected', 'Ditolak', num(t.rejected)),
      stat('tot-pending', 'Menunggu tinjauan', num(t.pending)),
      stat('tot-p50', 'Waktu keputusan p50', duration(t.decision_p50_s), `p90 ${duration(t.decision_p90_s)}`),
      stat('kim-registered', 'KIM terdaftar', num(k.registered), `${num(k.verified)} terverifikasi · ${num(k.active)} aktif`),
      stat('kim-coverage', 'Cakupan desa', pct(k.coverage), `${num(k.desa_covered)} dari ${num(k.desa_total)} desa/kelurahan`),
      stat('reg-pending', 'Registrasi menunggu', num((d.registrations || {}).pending))));
  const [trendBox, trendCanvas] = chartBox('Tren harian (14 hari terakhir)', 'chart-trend');
  const [typeBox, typeCanvas] = chartBox('Per jenis konten', 'chart-type');
  const [backBox, backCanvas] = chartBox(`Antrean menunggu per ${(LEVELS[levelOf(code) + 1] || 'wilayah').toLowerCase()}`, 'chart-backlog');
  body.append(h('div', { class: 'charts' }, trendBox, typeBox),
    h('section', { class: 'card' }, h('h2', {}, `Per ${(LEVELS[levelOf(code) + 1] || 'wilayah').toLowerCase()}`),
      d.children.length ? childrenTable(dash, signal, d, code, from, to) : h('p', { class: 'hint' }, 'Tidak ada wilayah di bawahnya.')),
    d.children.length ? backBox : null);
  const types = Object.keys(d.by_type || {});
  charts.push(chart(typeCanvas, 'bar', types.map((x) => label(TYPES, x)),
    ['approved', 'rejected', 'pending'].map((key) => ({
      label: { approved: 'Disetujui', rejected: 'Ditolak', pending: 'Menunggu' }[key],
      data: types.map((x) => d.by_type[x][key]), backgroundColor: COLORS[key],
    })), { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }));
  if (d.children.length) {
    const top = [...d.children].sort((a, b) => b.pending - a.pending).slice(0, 20);
    charts.push(chart(backCanvas, 'bar', top.map((c) => c.name || c.code),
      [{ label: 'Menunggu', data: top.map((c) => c.pending), backgroundColor: COLORS.pending }],
      { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }));
  }
  trend(dash, signal, trendCanvas, code, Number(rangeDays), tz, charts).catch((e) => {
    if (e.name !== 'AbortError') trendBox.append(errorBox(e));
  });
  return () => { stop(); charts.forEach((c) => c.destroy()); };
}
