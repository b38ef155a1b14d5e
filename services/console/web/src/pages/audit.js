// pages/audit.js - the append-only audit log of the caller's region, filtered
// by region prefix or moderator.
import { get, qs } from '../api.js';
import { clear, errorBox, field, h, loading } from '../dom.js';
import { ACTIONS, REASONS, dateTime, label, regionLabel, regionNames } from '../fmt.js';

export async function renderAudit(main) {
  const box = h('section', { class: 'card' });
  const f = h('form', { class: 'filters', role: 'search', 'aria-label': 'Saring jejak audit' },
    field('Wilayah (kode)', h('input', { name: 'region', placeholder: 'mis. 35.07', size: 14 })),
    field('Moderator (id)', h('input', { name: 'moderator', size: 36 })),
    h('button', { type: 'submit' }, 'Terapkan'));
  main.append(h('h1', {}, 'Jejak audit'), f, box);
  async function load() {
    clear(box).append(loading());
    try {
      const r = await get(`/api/moderate/audit${qs({ region: f.elements.region.value.trim(), moderator: f.elements.moderator.value.trim(), limit: 200 })}`);
      await regionNames(r.entries.map((e) => e.region_code));
      clear(box);
      if (!r.entries.length) { box.append(h('p', { class: 'empty' }, 'Tidak ada catatan.')); return; }
      box.append(h('table', { class: 'plain', 'aria-label': 'Catatan audit' },
        h('thead', {}, h('tr', {}, ['Waktu', 'Tindakan', 'Butir', 'Wilayah', 'Pelaku', 'Alasan'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, r.entries.map((e) => h('tr', {},
          h('td', {}, dateTime(e.at, e.region_code)),
          h('td', { 'data-label': 'Tindakan' }, label(ACTIONS, e.action)),
          h('td', { 'data-label': 'Butir' }, h('a', { href: `#/butir/${e.item_id}` }, `${e.item_id.slice(0, 8)}… v${e.version}`)),
          h('td', { 'data-label': 'Wilayah' }, regionLabel(e.region_code)),
          h('td', { 'data-label': 'Pelaku' }, e.actor === 'auto' ? 'sistem' : e.actor.slice(0, 8)),
          h('td', { 'data-label': 'Alasan' }, e.reason_code ? label(REASONS, e.reason_code) : '—'))))));
    } catch (e) { clear(box).append(errorBox(e)); }
  }
  f.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  load();
}
