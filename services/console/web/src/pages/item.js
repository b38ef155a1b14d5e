// pages/item.js - one item: its text with the fired signals marked in place
// (PII arrives masked), the signals with their scores, claim/release, the
// decision form with a reason code, and the item's audit trail.
import { get, post, session } from '../api.js';
import { clear, errorBox, field, h, loading, toast } from '../dom.js';
import {
  ACTIONS, REASONS, SIGNALS, STATES, dateTime, parseTime, label, regionLabel, regionNames,
} from '../fmt.js';
import { highlight, spansOf } from './highlight.js';
import { reasonSelect } from './queue.js';

function parseSignals(v) {
  if (!v) return [];
  try { return typeof v === 'string' ? JSON.parse(v) : v; } catch { return []; }
}

function signalList(signals) {
  if (!signals.length) return h('p', { class: 'hint' }, 'Tidak ada sinyal.');
  return h('ul', { class: 'signals' }, signals.map((s) => h('li', {},
    h('span', { class: `sig-tag sig-${s.name}` }, label(SIGNALS, s.name)),
    h('span', { class: 'score' }, `${Number(s.score) > 0 ? '+' : ''}${Number(s.score).toFixed(1).replace('.', ',')}`),
    s.detail ? h('small', {}, ` ${s.detail}`) : null)));
}

export function kimBlock(t) {
  return h('dl', { class: 'kv' },
    h('dt', {}, 'Nama KIM'), h('dd', {}, t.name),
    h('dt', {}, 'Nomor SK'), h('dd', {}, t.decree_number || '—'),
    h('dt', {}, 'Tanggal SK'), h('dd', {}, t.decree_date || '—'),
    h('dt', {}, 'Bidang'), h('dd', {}, (t.fields || []).join(', ') || '—'),
    h('dt', {}, 'Anggota'), h('dd', {}, (t.members || []).map((m) => `${m.name} (${m.role})`).join(', ') || '—'));
}

function textBlock(v, text, signals) {
  if (!text) return h('p', { class: 'hint' }, 'Teks tidak tersedia.');
  if (v.kind === 'kim') return kimBlock(text);
  return h('article', { class: 'text', 'aria-label': 'Teks kiriman' },
    h('h2', { class: 'item-title' }, highlight(text.title, spansOf(signals, 'title'))),
    h('div', { class: 'body' }, highlight(text.body, spansOf(signals, 'body'))),
    text.tags && text.tags.length ? h('p', { class: 'tags' }, text.tags.map((t) => h('span', { class: 'tag' }, `#${t}`))) : null,
    text.author_name ? h('p', { class: 'hint' }, `Pengirim: ${text.author_name}`) : null);
}

async function auditTrail(box, id, region) {
  try {
    const r = await get(`/api/moderate/audit?item=${id}&limit=100`);
    clear(box).append(h('h2', {}, 'Jejak audit'));
    if (!r.entries.length) { box.append(h('p', { class: 'hint' }, 'Belum ada catatan.')); return; }
    box.append(h('ol', { class: 'audit' }, r.entries.map((e) => h('li', {},
      h('time', { datetime: e.at }, dateTime(e.at, region)), ' · ',
      h('strong', {}, label(ACTIONS, e.action)), ` (v${e.version})`,
      e.actor === 'auto' ? ' · sistem' : ` · ${e.actor === session.me.user_id ? 'Anda' : e.actor.slice(0, 8)}`,
      e.reason_code ? ` · ${label(REASONS, e.reason_code)}` : '', e.note ? ` · “${e.note}”` : ''))));
  } catch (e) { clear(box).append(errorBox(e)); }
}

function decisionForm(v, after) {
  const kim = v.kind === 'kim';
  const reason = reasonSelect('reason_code', '', true);
  reason.id = 'reason';
  const note = h('textarea', { name: 'note', rows: 2, maxlength: 2000, id: 'note' });
  const choice = (val, text, checked) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name: 'decision', value: val, checked }), ` ${text}`);
  const f = h('form', { class: 'decide', 'aria-label': 'Keputusan' },
    h('fieldset', {}, h('legend', {}, 'Keputusan'),
      choice(kim ? 'verify' : 'approve', kim ? 'Verifikasi KIM' : 'Setujui', true),
      choice('reject', 'Tolak', false)),
    field('Alasan (wajib untuk penolakan)', reason), field('Catatan', note),
    h('button', { type: 'submit', class: 'primary' }, 'Simpan keputusan'));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const decision = f.elements.decision.value;
    if (decision === 'reject' && (!reason.value || reason.value === 'ok')) {
      toast('Pilih alasan penolakan.', 'warn');
      reason.focus();
      return;
    }
    const body = { decision };
    if (reason.value) body.reason_code = reason.value;
    if (note.value.trim()) body.note = note.value.trim();
    try {
      const r = await post(`/api/moderate/${kim ? 'kims' : 'items'}/${v.id}/decision`, body);
      toast(`Keputusan tersimpan: ${label(STATES, r.state)}${r.national_id ? ` · Nomor KIM ${r.national_id}` : ''}.`);
      after(kim);
    } catch (e) { toast(e.message, 'err'); }
  });
  return f;
}

export async function renderItem(main, [id]) {
  main.append(loading());
  const [detail, text] = await Promise.all([
    get(`/api/moderate/items/${id}`),
    get(`/api/items/${id}/text`).catch(() => ({ versions: [] })),
  ]);
  const v = detail.versions[0];
  const t = (text.versions.find((x) => String(x.version) === String(v.version)) || {}).text;
  const signals = parseSignals(v.signals);
  await regionNames([v.region_code]);
  clear(main);
  const back = v.kind === 'kim' ? '#/kim' : '#/antrean';
  const claimed = v.claimed_by && v.claim_expires_at && new Date() < parseTime(v.claim_expires_at);
  const mine = claimed && v.claimed_by === session.me.user_id;
  const status = h('p', { class: 'status', 'aria-live': 'polite' },
    h('span', { class: `state st-${v.state}` }, label(STATES, v.state)),
    claimed ? h('span', { class: `badge ${mine ? 'mine' : 'other'}` }, mine ? `Klaim Anda s.d. ${dateTime(v.claim_expires_at, v.region_code)}` : 'Diklaim moderator lain') : null,
    v.appeal_state === 'pending' ? h('span', { class: 'badge appeal' }, 'Banding menunggu') : null);
  const actions = h('div', { class: 'actions' });
  const reloadMe = () => { clear(main); renderItem(main, [id]).catch((e) => main.append(errorBox(e))); };
  if (v.state === 'review') {
    actions.append(h('button', { type: 'button', id: 'claim', onclick: async () => {
      try { await post(`/api/moderate/items/${id}/${mine ? 'release' : 'claim'}`); toast(mine ? 'Klaim dilepas.' : 'Butir diklaim untuk Anda.'); reloadMe(); } catch (e) { toast(e.message, 'err'); }
    } }, mine ? 'Lepas klaim' : 'Klaim'));
  }
  const audit = h('section', { class: 'card' }, loading());
  main.append(
    h('p', {}, h('a', { href: back }, '← Kembali ke antrean')),
    h('div', { class: 'item-grid' },
      h('section', { class: 'card main-col' },
        h('h1', {}, v.kind === 'kim' ? 'Registrasi KIM' : 'Butir kiriman'),
        h('dl', { class: 'kv meta' },
          h('dt', {}, 'Wilayah'), h('dd', {}, regionLabel(v.region_code)),
          h('dt', {}, 'Versi'), h('dd', {}, v.version),
          h('dt', {}, 'Skor'), h('dd', {}, Number(v.score).toFixed(1).replace('.', ',')),
          h('dt', {}, 'Keputusan otomatis'), h('dd', {}, label(STATES, v.auto_decision))),
        status, textBlock(v, t, signals)),
      h('aside', { class: 'side-col' },
        h('section', { class: 'card' }, h('h2', {}, 'Sinyal'), signalList(signals)),
        v.state === 'review' ? h('section', { class: 'card' }, actions, decisionForm(v, (kim) => { location.hash = kim ? '#/kim' : '#/antrean'; })) : null,
        audit)));
  auditTrail(audit, id, v.region_code);
}
