// pages/search.js - the public search (simpul-search through the console):
// query, filters, facets by type and region (click to narrow), highlighted
// titles and snippets (byte offsets), next page by cursor.
import { get, qs } from '../api.js';
import { clear, errorBox, field, h, loading, select } from '../dom.js';
import { TYPES, dateTime, label, num, regionLabel, regionNames } from '../fmt.js';

const state = { q: '', region: '', type: '', from: '', to: '', sort: '' };
const enc = new TextEncoder();
const dec = new TextDecoder();

// text with [start, end) byte ranges wrapped in <mark>.
function marked(hl) {
  if (!hl) return [];
  const bytes = enc.encode(hl.text);
  const out = [];
  let at = 0;
  for (const [a, b] of hl.highlights || []) {
    if (a < at || b > bytes.length) continue;
    out.push(dec.decode(bytes.subarray(at, a)), h('mark', {}, dec.decode(bytes.subarray(a, b))));
    at = b;
  }
  out.push(dec.decode(bytes.subarray(at)));
  return out;
}

function facets(r, onPick) {
  const f = r.facets || {};
  const box = h('aside', { class: 'card facets', 'aria-label': 'Faset' });
  if (f.type) {
    box.append(h('h2', {}, 'Jenis'), h('ul', {}, Object.entries(f.type).map(([t, n]) => h('li', {},
      h('button', { type: 'button', class: state.type === t ? 'chip on' : 'chip', onclick: () => onPick('type', state.type === t ? '' : t) },
        `${label(TYPES, t)} · ${num(n)}`)))));
  }
  if (f.region && f.region.counts) {
    box.append(h('h2', {}, 'Wilayah'), h('ul', {}, Object.entries(f.region.counts).map(([c, n]) => h('li', {},
      h('button', { type: 'button', class: 'chip', onclick: () => onPick('region', c) }, `${regionLabel(c)} · ${num(n)}`)))));
  }
  return box;
}

export async function renderSearch(main) {
  const input = h('input', { type: 'search', name: 'q', id: 'q', value: state.q, placeholder: 'mis. banjir OR longsor -hoaks', size: 30 });
  const form = h('form', { class: 'filters search-form', role: 'search', 'aria-label': 'Pencarian konten terbit' },
    field('Kata kunci', input),
    field('Wilayah (kode)', h('input', { name: 'region', value: state.region, placeholder: 'mis. 51.71', size: 12 })),
    field('Jenis', select('type', [['', 'Semua jenis'], ...Object.entries(TYPES)], state.type)),
    field('Dari', h('input', { type: 'date', name: 'from', value: state.from })),
    field('Sampai', h('input', { type: 'date', name: 'to', value: state.to })),
    field('Urutan', select('sort', [['', 'Otomatis'], ['relevance', 'Relevansi'], ['date', 'Terbaru']], state.sort)),
    h('button', { type: 'submit', class: 'primary' }, 'Cari'));
  const results = h('div', { class: 'search-grid', 'aria-live': 'polite' });
  main.append(h('h1', {}, 'Pencarian'), form, results);

  async function run(cursor, listEl) {
    const params = { ...state, limit: 20, cursor };
    let r;
    try { r = await get(`/api/search/search${qs(params)}`); } catch (e) {
      (listEl || clear(results)).append(errorBox(e));
      return;
    }
    const codes = r.hits.map((x) => x.region_code);
    if (r.facets && r.facets.region) codes.push(...Object.keys(r.facets.region.counts || {}));
    await regionNames(codes);
    let list = listEl;
    if (!list) {
      clear(results);
      list = h('ol', { class: 'hits' });
      results.append(h('section', { class: 'card' },
        h('p', { class: 'hint', id: 'total' }, r.note ? r.note : `${num(r.total)} hasil`), list), facets(r, (k, v) => {
        state[k] = v;
        form.elements[k].value = v;
        run();
      }));
    }
    for (const hit of r.hits) {
      list.append(h('li', { class: 'hit' },
        h('h2', {}, hit.title_highlight ? marked(hit.title_highlight) : hit.title),
        h('p', { class: 'meta' }, label(TYPES, hit.type), ' · ', regionLabel(hit.region_code), ' · ',
          dateTime(hit.published_at, hit.region_code)),
        hit.snippet ? h('p', { class: 'snippet' }, marked(hit.snippet)) : null,
        hit.tags && hit.tags.length ? h('p', { class: 'tags' }, hit.tags.map((t) => h('span', { class: 'tag' }, `#${t}`))) : null));
    }
    list.parentElement.querySelector('.more')?.remove();
    if (r.next_cursor) {
      list.after(h('button', { type: 'button', class: 'more', onclick: () => run(r.next_cursor, list) }, 'Muat lebih banyak'));
    }
    if (!r.hits.length && !listEl) list.append(h('li', { class: 'empty' }, 'Tidak ada hasil.'));
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const k of Object.keys(state)) state[k] = form.elements[k].value.trim();
    clear(results).append(loading('Mencari…'));
    run();
  });
  input.focus();
  if (state.q || state.region || state.type) run();
}
