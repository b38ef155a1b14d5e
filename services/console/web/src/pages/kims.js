// pages/kims.js - KIM registrations waiting for verification: verify (a
// national number is issued) or reject with a reason, or open the detail.
import { get, post } from '../api.js';
import { clear, errorBox, h, loading, toast } from '../dom.js';
import { dateTime, regionLabel } from '../fmt.js';
import { kimBlock } from './item.js';
import { claimBadge, loadQueue, reasonSelect } from './queue.js';

export async function renderKims(main) {
  const box = h('section', { class: 'card' }, loading());
  main.append(h('h1', {}, 'Registrasi KIM untuk diverifikasi'), box);
  async function load() {
    let rows;
    try { rows = await loadQueue({}, 'kim'); } catch (e) { clear(box).append(errorBox(e)); return; }
    clear(box);
    if (!rows.length) { box.append(h('p', { class: 'empty' }, 'Tidak ada registrasi yang menunggu.')); return; }
    box.append(h('ul', { class: 'cards' }, rows.map((it) => {
      const reason = reasonSelect('reason', 'invalid_kim', false);
      reason.setAttribute('aria-label', `Alasan tolak ${it.title}`);
      const decide = async (decision) => {
        try {
          const r = await post(`/api/moderate/kims/${it.id}/decision`,
            decision === 'verify' ? { decision } : { decision, reason_code: reason.value || 'invalid_kim' });
          toast(decision === 'verify' ? `KIM terverifikasi · ${r.national_id || ''}` : 'Registrasi ditolak.');
          load();
        } catch (e) { toast(e.message, 'err'); }
      };
      const details = h('div', { class: 'kim-details' });
      get(`/api/items/${it.id}/text`).then((r) => {
        const t = r.versions[0] && r.versions[0].text;
        if (t) details.append(kimBlock(t));
      }).catch(() => {});
      return h('li', { class: 'kim' },
        h('h2', {}, h('a', { href: `#/butir/${it.id}` }, it.title || '(tanpa nama)'), ' ', claimBadge(it)),
        h('p', {}, regionLabel(it.region_code), ' · ', dateTime(it.submitted_at, it.region_code)),
        details,
        h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'ok', onclick: () => decide('verify') }, 'Verifikasi'),
          reason,
          h('button', { type: 'button', class: 'danger', onclick: () => decide('reject') }, 'Tolak')));
    })));
  }
  load();
}
