// main.js - the console's shell: sign-in, navigation by role, and a hash
// router (#/antrean, #/butir/ID, #/kim, #/banding, #/audit, #/pantau/KODE,
// #/cari). Each page is a function render(main, args) in pages/.
import { canModerate, restore, session, signIn, signOut } from './api.js';
import { clear, errorBox, field, h } from './dom.js';
import { ROLES, regionLabel, regionName, regionNames } from './fmt.js';
import { renderQueue } from './pages/queue.js';
import { renderItem } from './pages/item.js';
import { renderKims } from './pages/kims.js';
import { renderAppeals } from './pages/appeals.js';
import { renderAudit } from './pages/audit.js';
import { renderDashboard } from './pages/dashboard.js';
import { renderSearch } from './pages/search.js';

const pages = {
  antrean: { title: 'Antrean', render: renderQueue, mod: true },
  butir: { title: 'Butir', render: renderItem, mod: true, hidden: true },
  kim: { title: 'Registrasi KIM', render: renderKims, mod: true },
  banding: { title: 'Banding', render: renderAppeals, mod: true },
  audit: { title: 'Jejak audit', render: renderAudit, mod: true },
  pantau: { title: 'Pemantauan', render: renderDashboard },
  cari: { title: 'Pencarian', render: renderSearch },
};

const main = document.getElementById('main');
let cleanup = null;
let generation = 0; // of route(): a page that finishes loading late must not take over

function home() {
  return canModerate() ? 'antrean' : 'pantau';
}

function renderNav(current) {
  const nav = clear(document.getElementById('nav'));
  if (!session.me) return;
  const ul = h('ul', {});
  for (const [key, p] of Object.entries(pages)) {
    if (p.hidden || (p.mod && !canModerate())) continue;
    ul.append(h('li', {}, h('a', { href: `#/${key}`, 'aria-current': key === current ? 'page' : null }, p.title)));
  }
  nav.append(ul);
  const who = clear(document.getElementById('who'));
  who.append(h('span', { class: 'who-name' }, session.me.name || session.me.user_id),
    h('span', { class: 'who-role', title: session.me.region_prefix || 'Nasional' },
      `${ROLES[session.me.role] || session.me.role} · ${regionName(session.me.region_prefix) || regionLabel(session.me.region_prefix)}`),
    h('button', { class: 'link', type: 'button', onclick: async () => { await signOut(); route(); } }, 'Keluar'));
}

function renderSignIn(msg) {
  clear(document.getElementById('nav'));
  clear(document.getElementById('who'));
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true,
    placeholder: 'simpul_…', 'aria-describedby': 'token-help' });
  const out = h('div', { 'aria-live': 'assertive' }, msg ? errorBox({ message: msg }) : null);
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h' }, 'Masuk ke Konsol Simpul'),
    h('p', {}, 'Untuk moderator Diskominfo, analis, dan admin. Gunakan token API yang sama dengan layanan Simpul.'),
    field('Token API', input),
    h('p', { id: 'token-help', class: 'hint' }, 'Token dibuat oleh admin dengan simpulctl tokens create. Token hanya disimpan di tab ini.'),
    h('button', { type: 'submit', class: 'primary' }, 'Masuk'), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      await signIn(input.value);
      await regionNames([session.me.region_prefix]);
      const target = `#/${home()}`;
      if (location.hash === target) route();
      else location.hash = target; // hashchange routes
    } catch (e) {
      out.append(errorBox(e));
    }
  });
  clear(main).append(form);
  input.focus();
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!session.me) { renderSignIn(); return; }
  const [, key = '', ...args] = (location.hash || '').split('/');
  const name = pages[key] && (!pages[key].mod || canModerate()) ? key : null;
  if (!name) { location.replace(`#/${home()}`); return; }
  renderNav(name);
  document.title = `${pages[name].title} · Konsol Simpul`;
  clear(main);
  const gen = ++generation;
  try {
    const done = (await pages[name].render(main, args.map(decodeURIComponent))) || null;
    if (gen === generation) cleanup = done;
    else if (done) done(); // the user moved on while this page was loading
  } catch (e) {
    if (gen === generation && e.name !== 'AbortError') main.append(errorBox(e));
  }
  document.getElementById('nav').classList.remove('open');
  document.getElementById('menu-btn').setAttribute('aria-expanded', 'false');
}

window.addEventListener('hashchange', route);
window.addEventListener('simpul:signout', async () => {
  await signOut();
  renderSignIn('Sesi berakhir: token tidak berlaku lagi. Silakan masuk kembali.');
});
document.getElementById('menu-btn').addEventListener('click', (ev) => {
  const nav = document.getElementById('nav');
  const open = nav.classList.toggle('open');
  ev.currentTarget.setAttribute('aria-expanded', String(open));
});

(async () => {
  await restore();
  if (session.me) await regionNames([session.me.region_prefix]);
  route();
})();
