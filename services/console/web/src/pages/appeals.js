// pages/appeals.js - items back in review after the author appealed: another
// moderator of the region (or the province) decides them in the item page.
import { clear, errorBox, h, loading } from '../dom.js';
import { dateTime, regionLabel } from '../fmt.js';
import { loadQueue } from './queue.js';

export async function renderAppeals(main) {
  const box = h('section', { class: 'card' }, loading());
  main.append(h('h1', {}, 'Banding'), h('p', { class: 'hint' },
    'Butir yang ditolak lalu dibanding pengirimnya. Moderator yang menolak tidak dapat memutus bandingnya.'), box);
  let rows;
  try { rows = (await loadQueue({}, 'content')).filter((it) => it.appeal_state === 'pending'); } catch (e) {
    clear(box).append(errorBox(e));
    return;
  }
  clear(box);
  if (!rows.length) { box.append(h('p', { class: 'empty' }, 'Tidak ada banding yang menunggu.')); return; }
  box.append(h('table', { class: 'plain', 'aria-label': 'Banding menunggu' },
    h('thead', {}, h('tr', {}, ['Judul', 'Wilayah', 'Masuk', 'Eskalasi'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((it) => h('tr', {},
      h('td', {}, h('a', { href: `#/butir/${it.id}` }, it.title)),
      h('td', { 'data-label': 'Wilayah' }, regionLabel(it.region_code)),
      h('td', { 'data-label': 'Masuk' }, dateTime(it.submitted_at, it.region_code)),
      h('td', { 'data-label': 'Eskalasi' }, it.escalated === 't' ? 'Ke provinsi' : '—'))))));
}
