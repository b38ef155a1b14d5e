// api.js - calls to the console's own origin: /api/session, /api/regions,
// /api/items and the forwarded /api/moderate, /api/report, /api/search.
// The token lives in sessionStorage (gone when the tab closes) and goes in
// the Authorization header; errors become Error objects with Indonesian text.

const KEY = 'simpul.token';

export const session = { token: sessionStorage.getItem(KEY) || '', me: null };

const messages = {
  unauthorized: 'Token tidak dikenal, dicabut, atau kedaluwarsa. Silakan masuk lagi.',
  forbidden: 'Anda tidak berwenang untuk wilayah atau tindakan ini.',
  role_not_allowed: 'Konsol ini untuk moderator, analis, dan admin.',
  claimed: 'Butir ini sedang diklaim moderator lain.',
  not_pending: 'Butir ini sudah tidak menunggu peninjauan.',
  not_found: 'Data tidak ditemukan.',
  appeal_conflict: 'Banding harus diputus moderator lain.',
  upstream_unavailable: 'Layanan sedang tidak dapat dihubungi. Coba lagi sebentar lagi.',
  upstream_timeout: 'Layanan terlalu lama menjawab. Coba lagi.',
  unavailable: 'Basis data sedang tidak tersedia. Coba lagi sebentar lagi.',
  invalid_field: 'Isian tidak valid',
  bad_query: 'Kueri pencarian tidak valid',
  bad_request: 'Permintaan tidak valid',
  too_many_exports: 'Terlalu banyak ekspor berjalan. Coba lagi sebentar lagi.',
};

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

// signal (optional): an AbortSignal that cancels the call when its page is left.
export async function api(method, path, body, signal) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Jaringan terputus: konsol tidak dapat dihubungi.');
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    const e = (json && json.error) || {};
    const base = messages[e.code] || `Gagal (${res.status})`;
    const detail = e.field ? `${base}: ${e.field}` : base;
    const err = new ApiError(res.status, e.code || 'http', detail, e.field);
    if (res.status === 401 && path !== '/api/session') window.dispatchEvent(new Event('simpul:signout'));
    throw err;
  }
  return json;
}

export const get = (path, signal) => api('GET', path, undefined, signal);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export async function signIn(token) {
  session.token = token.trim();
  try {
    session.me = await api('POST', '/api/session');
  } catch (e) {
    session.token = '';
    throw e;
  }
  sessionStorage.setItem(KEY, session.token);
  return session.me;
}

export async function restore() {
  if (!session.token) return null;
  try {
    session.me = await api('POST', '/api/session');
  } catch {
    session.token = '';
    sessionStorage.removeItem(KEY);
    session.me = null;
  }
  return session.me;
}

export async function signOut() {
  try { await fetch('/api/session', { method: 'DELETE' }); } catch { /* cookie expires anyway */ }
  session.token = '';
  session.me = null;
  sessionStorage.removeItem(KEY);
}

export const canModerate = () => session.me && ['moderator', 'admin'].includes(session.me.role);
