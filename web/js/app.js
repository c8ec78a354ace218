// The client's entry: signed out it shows the sign-in forms; signed in, the
// shell (top bar, sidebar, view, side panel) and a hash router:
//   #/                    home
//   #/browse              rooms to join, create a room
//   #/room/<id>           a room: chat, voice, members
//   #/dm/<user id>        the direct conversation with a user
//   #/group/<id>          a group conversation
//   #/settings            account settings
// Every view is mount(element, ...) returning its cleanup function.
import { api, scheduleRefresh } from './api.js';
import { showLogin, showRegister } from './auth.js';
import { mountConversation, mountRoom } from './chat.js';
import { $, h, replace } from './dom.js';
import { live } from './live.js';
import { mountBrowse, mountMembers, mountSidebar } from './rooms.js';
import { session, sessionEvents } from './session.js';
import { mountSettings } from './settings.js';
import { avatar, toastError } from './ui.js';
import { displayName, rememberUser } from './users.js';
import { mountVoice } from './voice.js';

const UUID = '[0-9a-fA-F-]{36}';
const routes = [
  [new RegExp(`^#/room/(${UUID})$`), (m, v, p) => [mountRoom(v, m[1]), mountVoice(p, m[1]), mountMembers(p, m[1])]],
  [new RegExp(`^#/dm/(${UUID})$`), (m, v) => [mountConversation(v, { peerId: m[1] })]],
  [new RegExp(`^#/group/(${UUID})$`), (m, v) => [mountConversation(v, { groupId: m[1] })]],
  [/^#\/browse$/, (m, v) => [mountBrowse(v)]],
  [/^#\/settings$/, (m, v) => [mountSettings(v)]],
];

const root = document.getElementById('app');
let cleanups = [];
let shellUp = false;

function unmountView() {
  for (const c of cleanups) { try { if (typeof c === 'function') c(); } catch (e) { console.error(e); } }
  cleanups = [];
}

function home(view) {
  replace(view, h('section', { class: 'home' },
    h('h1', { text: `Welcome, ${displayName(session.user)}` }),
    h('p', { text: 'Pick a room or a conversation on the left, or find a room to join.' }),
    h('p', {}, h('a', { class: 'button primary', href: '#/browse', text: 'Browse rooms' }))));
}

function route() {
  if (!session.get()) { signedOut(); return; }
  if (!shellUp) buildShell();
  unmountView();
  const view = $('#view');
  const panel = $('#panel');
  replace(view);
  replace(panel);
  const hash = location.hash || '#/';
  document.body.dataset.home = String(!routes.some(([re]) => re.test(hash)));
  toggleMenu(false);
  for (const [re, mount] of routes) {
    const m = hash.match(re);
    if (m) {
      panel.hidden = !/^#\/room\//.test(hash);
      cleanups = mount(m, view, panel);
      document.dispatchEvent(new CustomEvent('enclavr:route', { detail: hash }));
      return;
    }
  }
  panel.hidden = true;
  home(view);
  document.dispatchEvent(new CustomEvent('enclavr:route', { detail: '#/' }));
}

const stateText = { online: 'Connected', connecting: 'Reconnecting…', offline: 'Offline' };

function connectionBadge() {
  const badge = h('span', { id: 'connection', class: 'conn', role: 'status', 'aria-live': 'polite' });
  const show = (s) => { badge.dataset.state = s; badge.textContent = stateText[s] ?? s; };
  show(live.state);
  live.on('state', show);
  return badge;
}

async function signOut() {
  try { await api('POST', '/api/auth/logout'); } catch { /* the session ends here anyway */ }
  session.clear();
}

// On a narrow screen (or at 200 % zoom) the sidebar folds away behind the
// "Rooms" button except on the home view; a route change folds it again.
function toggleMenu(open) {
  const show = typeof open === 'boolean' ? open : !$('#sidebar').classList.contains('open');
  $('#sidebar').classList.toggle('open', show);
  $('#menu').setAttribute('aria-expanded', String(show));
}

function buildShell() {
  shellUp = true;
  const me = session.user;
  const sidebar = h('nav', { id: 'sidebar', 'aria-label': 'Rooms and conversations' });
  replace(root,
    // Focuses the view without touching the hash (the router's).
    h('a', { class: 'skip', href: '#view', text: 'Skip to content',
      onclick: (e) => { e.preventDefault(); $('#view').focus(); } }),
    h('header', { class: 'topbar' },
      h('button', { type: 'button', id: 'menu', class: 'menu-toggle', text: 'Rooms',
        'aria-controls': 'sidebar', 'aria-expanded': 'false', onclick: toggleMenu }),
      h('a', { class: 'brand', href: '#/', text: 'Enclavr' }),
      connectionBadge(),
      h('span', { class: 'spacer' }),
      h('a', { class: 'me', href: '#/settings', 'aria-label': 'Account settings' },
        avatar(me, 24), h('span', { class: 'me-name', text: displayName(me) })),
      h('button', { type: 'button', id: 'sign-out', text: 'Sign out', onclick: signOut })),
    h('div', { class: 'layout' },
      sidebar,
      h('main', { id: 'view', tabindex: '-1' }),
      h('aside', { id: 'panel', 'aria-label': 'Room details', hidden: true })));
  mountSidebar(sidebar);
  live.start();
}

function signedOut() {
  unmountView();
  shellUp = false;
  live.stop();
  const box = h('div', { class: 'auth' });
  replace(root, box);
  if (location.hash === '#/register') showRegister(box);
  else showLogin(box);
}

sessionEvents.on('change', (s) => {
  scheduleRefresh();
  if (!s) { if (shellUp || !$('.auth')) signedOut(); return; }
  if (!shellUp) route();
});

window.addEventListener('hashchange', () => {
  if (!session.get()) { signedOut(); return; }
  route();
});

async function boot() {
  if (session.get()) {
    scheduleRefresh();
    try {
      rememberUser(session.user);
      session.setUser(await api('GET', '/api/auth/me'));
    } catch (e) {
      if (e.status !== 401) toastError(e);
    }
  }
  route();
}

boot();
