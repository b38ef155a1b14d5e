// pages/highlight.js - marks the spans of fired signals in a text. Spans are
// UTF-8 byte offsets (libs/text, as stored by simpul-moderate), so the text is
// cut as bytes and each piece decoded; overlapping spans share one <mark>.
import { h } from '../dom.js';
import { SIGNALS, label } from '../fmt.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

// spans: [{start, end, signal}] for this text; returns an array of nodes.
export function highlight(text, spans) {
  const bytes = enc.encode(text || '');
  const cuts = new Set([0, bytes.length]);
  const ok = spans.filter((s) => s.start >= 0 && s.end <= bytes.length && s.start < s.end);
  for (const s of ok) { cuts.add(s.start); cuts.add(s.end); }
  const points = [...cuts].sort((a, b) => a - b);
  const out = [];
  let prevKey = '';
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i];
    const b = points[i + 1];
    const piece = dec.decode(bytes.subarray(a, b));
    const on = ok.filter((s) => s.start <= a && s.end >= b);
    const names = [...new Set(on.map((s) => s.signal))].sort();
    const key = names.join(' ');
    if (key && key === prevKey) { // one signal's overlapping spans read as one mark
      out[out.length - 1].firstChild.textContent += piece;
      continue;
    }
    prevKey = key;
    if (!names.length) { out.push(piece); continue; }
    const labels = names.map((n) => label(SIGNALS, n)).join(', ');
    out.push(h('mark', { class: `sig sig-${names[0]}`, title: labels, dataset: { signals: key } },
      h('span', {}, piece), h('span', { class: 'sr' }, ` [${labels}]`)));
  }
  return out;
}

// Spans of every signal for field 'title' or 'body'.
export function spansOf(signals, fieldName) {
  const out = [];
  for (const s of signals) for (const sp of s.spans || []) {
    if (sp.field === fieldName) out.push({ start: sp.start, end: sp.end, signal: s.name });
  }
  return out;
}
