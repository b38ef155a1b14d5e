// pages/queue.js - the review queue: counts per region (click to filter),
// filters, a keyboard-driven table (j/k move, Enter open, x select, a approve,
// r reject) and bulk decisions with a reason code.
import { get, post, qs, session } from '../api.js';
import { clear, errorBox, field, h, loading, select, toast } from '../dom.js';
import {
  REASONS, SIGNALS, TYPES, age, dateTime, label, levelOf, num, regionLabel, regionNames,
} from '../fmt.js';

// Filters survive a visit to an item and back.
export const queueFilters = { region: '', type: '', signal: '', min_age_s: '' };

const AGES = [['', 'Semua umur'], ['600', '≥ 10 menit'], ['3600', '≥ 1 jam'], ['86400', '≥ 1 hari']];

export function reasonSelect(name, value, allowOk) {
  const opts = Object.entries(REASONS).filter(([k]) => allowOk || k !== 'ok');
  return select(name, [['', '— pilih alasan —'], ...opts], value);
}

// Rows of a queue list, kind 'content' or 'kim'; shared with kims.js and appeals.js.
export async function loadQueue(filters, kind) {
  const r = await get(`/api/moderate/queue${qs({ ...filters, kind, limit: 200 })}`);
  await regionNames(r.items.map((i) => i.region_code));
  return r.items;
}

export function claimBadge(it) {
  if (!it.claim_expires_at || !it.claimed_by) return null;
  const mine = session.me && it.claimed_by === session.me.user_id;
  return h('span', { class: `badge ${mine ? 'mine' : 'other'}` }, mine ? 'Klaim Anda' : 'Diklaim');
}

async function renderCounts(box, onPick) {
  const depth = Math.min(4, levelOf(session.me.region_prefix) + 1);
  try {
    const r = await get(`/api/moderate/queue/counts?depth=${depth}`);
    await regionNames(r.regions.map((x) => x.region));
    clear(box);
    const total = r.regions.reduce((s, x) => s + Number(x.pending), 0);
    box.append(h('h2', { id: 'counts-h' }, `Menunggu per wilayah · ${num(total)} butir`));
    const ul = h('ul', { class: 'chips', 'aria-labelledby': 'counts-h' },
      h('li', {}, h('button', { type: 'button', class: queueFilters.region ? 'chip' : 'chip on', onclick: () => onPick('') },
        `Semua wilayah · ${num(total)}`)));
    for (const x of r.regions) {
      ul.append(h('li', {}, h('button', {
        type: 'button', class: queueFilters.region === x.region ? 'chip on' : 'chip',
        title: `Tertua: ${dateTime(x.oldest, x.region)}`, onclick: () => onPick(x.region),
      }, `${regionLabel(x.region)} · ${num(x.pending)}`, h('small', {}, ` (tertua ${age(x.oldest)})`))));
    }
    box.append(ul);
  } catch (e) {
    clear(box).append(errorBox(e));
  }
}

function filterForm(onChange) {
  const f = h('form', { class: 'filters', role: 'search', 'aria-label': 'Saring antrean' },
    field('Wilayah (kode)', h('input', { name: 'region', value: queueFilters.region, placeholder: 'mis. 35.07', inputmode: 'decimal', size: 14 })),
    field('Jenis', select('type', [['', 'Semua jenis'], ...Object.entries(TYPES)], queueFilters.type)),
    field('Sinyal', select('signal', [['', 'Semua sinyal'], ...Object.entries(SIGNALS)], queueFilters.signal)),
    field('Umur', select('min_age_s', AGES, queueFilters.min_age_s)),
    h('button', { type: 'submit' }, 'Terapkan'));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const k of Object.keys(queueFilters)) queueFilters[k] = f.elements[k].value.trim();
    onChange();
  });
  f.addEventListener('change', (ev) => { if (ev.target.tagName === 'SELECT') f.requestSubmit(); });
  return f;
}

export async function decideMany(ids, decision, reason) {
  const body = { ids, decision };
  if (reason) body.reason_code = reason;
  const r = await post('/api/moderate/decisions', body);
  return r;
}

export async function renderQueue(main) {
  const counts = h('section', { class: 'card', 'aria-live': 'polite' }, loading());
  const list = h('section', { class: 'card' });
  const selected = new Set();
  let rows = [];
  let cursor = 0;

  main.append(h('h1', {}, 'Antrean tinjauan'), counts, list);
  const reload = () => { renderCounts(counts, pick); renderList(); };
  const pick = (region) => { queueFilters.region = region; reload(); };
  list.before(filterForm(reload));

  const reasonBox = reasonSelect('reason', '', false);
  reasonBox.id = 'bulk-reason';
  const bulkInfo = h('span', { class: 'bulk-info', 'aria-live': 'polite' }, '0 dipilih');

  async function bulk(decision) {
    // the selection, else the row that has the focus (never a row the user cannot see chosen)
    const focused = document.activeElement && document.activeElement.matches('tr.row') ? rows[cursor] : null;
    const ids = selected.size ? [...selected] : focused ? [focused.id] : [];
    if (!ids.length) {
      toast('Pilih butir dahulu (x) atau pindah ke barisnya (j/k).', 'warn');
      return;
    }
    const reason = reasonBox.value;
    if (decision === 'reject' && !reason) {
      toast('Pilih alasan penolakan dahulu.', 'warn');
      reasonBox.focus();
      return;
    }
    try {
      const r = await decideMany(ids, decision, decision === 'reject' ? reason : undefined);
      toast(`${r.ok} butir ${decision === 'approve' ? 'disetujui' : 'ditolak'}${r.failed ? `, ${r.failed} gagal` : ''}.`,
        r.failed ? 'warn' : 'ok');
      selected.clear();
      reload();
    } catch (e) { toast(e.message, 'err'); }
  }

  function focusRow(i) {
    cursor = Math.max(0, Math.min(rows.length - 1, i));
    const tr = list.querySelector(`tr[data-i="${cursor}"]`);
    if (tr) tr.focus();
  }

  async function renderList() {
    clear(list).append(loading());
    try {
      rows = await loadQueue(queueFilters, 'content');
    } catch (e) {
      clear(list).append(errorBox(e));
      return;
    }
    selected.clear();
    clear(list);
    list.append(h('div', { class: 'bulk', role: 'group', 'aria-label': 'Keputusan massal' },
      bulkInfo,
      h('button', { type: 'button', class: 'ok', onclick: () => bulk('approve') }, 'Setujui (a)'),
      field('Alasan tolak', reasonBox),
      h('button', { type: 'button', class: 'danger', onclick: () => bulk('reject') }, 'Tolak (r)')));
    if (!rows.length) {
      list.append(h('p', { class: 'empty' }, 'Antrean kosong untuk saringan ini. 🎉'));
      return;
    }
    const tbody = h('tbody', {});
    rows.forEach((it, i) => {
      const cb = h('input', { type: 'checkbox', 'aria-label': `Pilih ${it.title}`, tabindex: -1 });
      cb.addEventListener('change', () => {
        if (cb.checked) selected.add(it.id); else selected.delete(it.id);
        bulkInfo.textContent = `${selected.size} dipilih`;
      });
      const tr = h('tr', { tabindex: 0, dataset: { i: String(i), id: it.id }, class: 'row' },
        h('td', { class: 'sel' }, cb),
        h('td', { class: 'title' }, h('a', { href: `#/butir/${it.id}`, tabindex: -1 }, it.title || '(tanpa judul)'),
          ' ', claimBadge(it), it.appeal_state === 'pending' ? h('span', { class: 'badge appeal' }, 'Banding') : null),
        h('td', { 'data-label': 'Wilayah' }, regionLabel(it.region_code)),
        h('td', { 'data-label': 'Jenis' }, label(TYPES, it.type)),
        h('td', { 'data-label': 'Skor', class: 'num' }, Number(it.score).toFixed(1).replace('.', ',')),
        h('td', { 'data-label': 'Sinyal' }, (it.signals || '').split(',').filter(Boolean)
          .map((s) => h('span', { class: `sig-tag sig-${s}` }, label(SIGNALS, s)))),
        h('td', { 'data-label': 'Masuk' }, dateTime(it.submitted_at, it.region_code)));
      tr.addEventListener('focus', () => { cursor = i; });
      tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'INPUT') location.hash = `#/butir/${it.id}`; });
      tbody.append(tr);
    });
    list.append(h('p', { class: 'hint keys' }, 'Papan ketik: j/k atau ↑/↓ pindah baris · Enter buka · x pilih · a setujui · r tolak (dengan alasan) · / saring'),
      h('table', { class: 'queue', 'aria-label': 'Butir menunggu tinjauan' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Pilih')),
          ...['Judul', 'Wilayah', 'Jenis', 'Skor', 'Sinyal', 'Masuk'].map((t) => h('th', { scope: 'col', class: t === 'Skor' ? 'num' : null }, t)))),
        tbody));
  }

  function onKey(ev) {
    if (ev.target.closest('input, select, textarea, button, a') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    const inRow = ev.target.matches('tr.row'); // the first j/k lands on the current row
    if (k === 'j' || k === 'ArrowDown') { focusRow(inRow ? cursor + 1 : cursor); ev.preventDefault(); }
    else if (k === 'k' || k === 'ArrowUp') { focusRow(inRow ? cursor - 1 : cursor); ev.preventDefault(); }
    else if (k === 'Enter' && ev.target.matches('tr.row')) { location.hash = `#/butir/${rows[cursor].id}`; }
    else if (k === 'x' && ev.target.matches('tr.row')) {
      const cb = list.querySelector(`tr[data-i="${cursor}"] input[type=checkbox]`);
      cb.checked = !cb.checked;
      cb.dispatchEvent(new Event('change'));
    } else if (k === 'a') bulk('approve');
    else if (k === 'r') bulk('reject');
    else if (k === '/') { ev.preventDefault(); main.querySelector('.filters input').focus(); }
  }
  document.addEventListener('keydown', onKey);
  reload();
  return () => document.removeEventListener('keydown', onKey);
}
