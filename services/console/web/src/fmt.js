// fmt.js - Indonesian labels, numbers, and dates in the region's own time
// zone (WIB, WITA, WIT by province), plus a cache of region names.
import { get } from './api.js';

export const TYPES = {
  berita: 'Berita', kegiatan: 'Kegiatan', potensi: 'Potensi desa', umkm: 'UMKM',
  aspirasi: 'Aspirasi', usulan: 'Usulan', diseminasi: 'Diseminasi',
};

export const REASONS = {
  ok: 'Layak', spam: 'Spam', abusive: 'Kata kasar', sara: 'SARA / ujaran kebencian',
  gambling: 'Promosi judi', porn: 'Pornografi', hoax: 'Hoaks', pii: 'Data pribadi',
  duplicate: 'Duplikat', off_topic: 'Tidak relevan', incomplete: 'Tidak lengkap',
  invalid_kim: 'KIM tidak valid', other: 'Lainnya',
};

export const SIGNALS = {
  ABUSIVE_WORD: 'Kata kasar', SARA_HATE: 'SARA / kebencian', GAMBLING_PROMO: 'Promosi judi',
  PORNOGRAPHY: 'Pornografi', HOAX_PHRASE: 'Frasa hoaks', PII_NIK: 'NIK', PII_PHONE: 'Nomor telepon',
  PII_EMAIL: 'Alamat surel', LINK_BAD_SITE: 'Tautan situs terlarang', LINK_DENIED_DOMAIN: 'Domain diblokir',
  LINK_ALLOWED_DOMAIN: 'Domain tepercaya', LINKS_MANY: 'Banyak tautan', LINK_ONLY: 'Hanya tautan',
  SHOUTING: 'Huruf kapital', REPETITION: 'Pengulangan kata', NEAR_DUPLICATE: 'Hampir duplikat',
  FLOOD_KIM: 'Banjir kiriman KIM', FLOOD_AUTHOR: 'Banjir kiriman penulis',
  BAYES_BAD: 'Pengklasifikasi: berisiko', BAYES_GOOD: 'Pengklasifikasi: wajar',
  KIM_REGISTRATION: 'Registrasi KIM',
};

export const STATES = {
  review: 'Menunggu tinjauan', approved: 'Disetujui', rejected: 'Ditolak', approve: 'Setujui',
  reject: 'Tolak', verified: 'Terverifikasi',
};

export const ACTIONS = {
  auto_approve: 'Otomatis disetujui', auto_review: 'Masuk antrean', auto_reject: 'Otomatis ditolak',
  claim: 'Diklaim', release: 'Dilepas', approve: 'Disetujui', reject: 'Ditolak', verify: 'Diverifikasi',
  appeal: 'Banding diajukan', reject_registration: 'Registrasi ditolak',
};

export const ROLES = { moderator: 'Moderator', analyst: 'Analis', admin: 'Admin' };

export const LEVELS = ['Nasional', 'Provinsi', 'Kabupaten/Kota', 'Kecamatan', 'Desa/Kelurahan'];

export const label = (table, key) => (key && table[key]) || key || '—';

const WITA = new Set(['51', '52', '53', '63', '64', '65', '71', '72', '73', '74', '75', '76']);
const WIT = new Set(['81', '82', '91', '92', '93', '94', '95', '96', '97']);

// The zone of a region code (national and unknown codes: WIB).
export function zoneOf(code) {
  const p = (code || '').slice(0, 2);
  if (WITA.has(p)) return { tz: 'Asia/Makassar', abbr: 'WITA' };
  if (WIT.has(p)) return { tz: 'Asia/Jayapura', abbr: 'WIT' };
  return { tz: 'Asia/Jakarta', abbr: 'WIB' };
}

// PostgreSQL's "2026-11-23 13:40:00.123456+00" or ISO text to a Date.
export function parseTime(s) {
  if (!s) return null;
  let t = String(s).trim().replace(' ', 'T');
  t = t.replace(/(\.\d{3})\d+/, '$1').replace(/([+-]\d\d)$/, '$1:00');
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function dateTime(s, regionCode) {
  const d = s instanceof Date ? s : parseTime(s);
  if (!d) return '—';
  const z = zoneOf(regionCode);
  const f = new Intl.DateTimeFormat('id-ID', {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: z.tz,
  });
  return `${f.format(d)} ${z.abbr}`;
}

// "5 mnt", "3 jam", "2 hari" since s.
export function age(s) {
  const d = parseTime(s);
  if (!d) return '';
  const sec = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (sec < 3600) return `${Math.round(sec / 60)} mnt`;
  if (sec < 86400) return `${Math.round(sec / 3600)} jam`;
  return `${Math.round(sec / 86400)} hari`;
}

export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  if (sec < 60) return `${Math.round(sec)} dtk`;
  if (sec < 3600) return `${(sec / 60).toFixed(1).replace('.', ',')} mnt`;
  if (sec < 86400) return `${(sec / 3600).toFixed(1).replace('.', ',')} jam`;
  return `${(sec / 86400).toFixed(1).replace('.', ',')} hari`;
}

const nf = new Intl.NumberFormat('id-ID');
export const num = (n) => nf.format(Number(n) || 0);
export const pct = (x) => `${(100 * (Number(x) || 0)).toFixed(1).replace('.', ',')}%`;

// Today (or n days before) as YYYY-MM-DD in zone tz.
export function isoDay(daysAgo = 0, tz = 'Asia/Jakarta') {
  const d = new Date(Date.now() - daysAgo * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(d);
}

const names = new Map();

// Names of region codes (cached); returns a Map code -> name.
export async function regionNames(codes) {
  const want = [...new Set(codes.filter((c) => c && !names.has(c)))];
  for (let i = 0; i < want.length; i += 300) {
    const part = want.slice(i, i + 300);
    try {
      const r = await get(`/api/regions?codes=${part.join(',')}`);
      for (const x of r.regions) names.set(x.code, x.name);
    } catch { /* names are a nicety: codes are shown instead */ }
    for (const c of part) if (!names.has(c)) names.set(c, null);
  }
  return names;
}

export const regionName = (code) => names.get(code) || null;

export function regionLabel(code) {
  if (!code) return 'Nasional';
  const n = names.get(code);
  return n ? `${n} (${code})` : code;
}

// Ancestors of a code, national first: "35.07.12" -> ["", "35", "35.07", "35.07.12"].
export function lineage(code) {
  const out = [''];
  if (!code) return out;
  const parts = code.split('.');
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('.'));
  return out;
}

export const levelOf = (code) => (code ? code.split('.').length : 0);
