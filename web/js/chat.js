// The message views: a room's chat (mountRoom) and a conversation, direct
// or group (mountConversation). Both are the shared view of msg-view.js
// over a source (msg-source-room.js, msg-source-dm.js), with a header and
// a side pane (thread, search, pinned messages).
import { api } from './api.js';
import { h, replace } from './dom.js';
import { icon } from './msg-icons.js';
import { pinnedPane } from './msg-pinned.js';
import { searchPane } from './msg-search.js';
import { roomSource } from './msg-source-room.js';
import { dmSource, groupSource } from './msg-source-dm.js';
import { threadPane } from './msg-thread.js';
import { chatView } from './msg-view.js';
import { avatar, confirmDialog, presenceDot, toastError } from './ui.js';
import { displayName, presenceOf, setPresence, userEvents } from './users.js';

// The frame of a view: header, then the messages beside an optional pane.
function frame(el, view, header) {
  const paneTitle = h('h2', { class: 'pane-title' });
  const paneBody = h('div', { class: 'pane-body' });
  const host = h('aside', { class: 'chat-pane', hidden: true, 'aria-label': 'Side panel' },
    h('div', { class: 'pane-head' }, paneTitle,
      h('button', { type: 'button', class: 'pane-close', 'aria-label': 'Close panel', title: 'Close (Escape)', onclick: () => close() }, icon('close'))),
    paneBody);
  let pane = null;
  let opener = null;

  function close() {
    if (!pane) return;
    pane.destroy?.();
    pane = null;
    view.setPane(null);
    host.hidden = true;
    replace(paneBody);
    for (const b of header.querySelectorAll('[aria-expanded]')) b.setAttribute('aria-expanded', 'false');
    if (opener?.isConnected) opener.focus();
  }

  function open(make, button) {
    close();
    opener = button || document.activeElement;
    pane = make();
    view.setPane(pane);
    paneTitle.textContent = pane.title;
    replace(paneBody, pane.el);
    host.hidden = false;
    button?.setAttribute('aria-expanded', 'true');
    pane.focus?.();
  }

  // A header button that opens a pane, or closes it when it is open.
  const toggle = (label, name, make) => {
    const b = h('button', { type: 'button', class: 'chat-tool', 'aria-label': label, title: label, 'aria-expanded': 'false' }, icon(name));
    b.addEventListener('click', () => (b.getAttribute('aria-expanded') === 'true' ? close() : open(make, b)));
    return b;
  };

  host.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !e.defaultPrevented) { e.preventDefault(); close(); } });
  replace(el, h('div', { class: 'chat' }, header, h('div', { class: 'chat-body' }, view.el, host)));
  return { open, close, toggle };
}

function failure(el, e, retry) {
  replace(el, h('section', { class: 'chat-error', role: 'alert' },
    h('h1', {}, e.status === 404 ? 'Not found' : 'This conversation cannot be shown'),
    h('p', {}, e.message || String(e)),
    retry ? h('p', {}, retry) : null));
}

export function mountRoom(el, roomId) {
  let cleanup = () => {};
  const start = () => { cleanup(); cleanup = room(el, roomId, start); };
  start();
  return () => cleanup();
}

function room(el, roomId, restart) {
  const source = roomSource(roomId);
  let f = null;
  const view = chatView(source, {
    onThread: (m) => f.open(() => threadPane(view, m)),
    placeholder: 'Message the room…',
  });
  const name = h('h1', { class: 'chat-name' }, 'Loading…');
  const desc = h('p', { class: 'chat-desc' });
  const header = h('header', { class: 'chat-header' }, h('div', { class: 'chat-title' }, name, desc));
  f = frame(el, view, header);
  header.append(h('div', { class: 'chat-tools' },
    f.toggle('Search messages', 'search', () => searchPane(view)),
    f.toggle('Pinned messages', 'pin', () => pinnedPane(view))));
  view.ready.then((r) => {
    name.textContent = `# ${r.name}`;
    desc.textContent = r.description || '';
    view.composer.textarea.placeholder = `Message #${r.name}`;
    if (!r.role) view.composer.disable('You are reading this room as an administrator: join it to write here.');
  }).catch((e) => {
    view.destroy();
    const join = e.status === 403 ? h('button', {
      type: 'button', class: 'primary', text: 'Join this room',
      onclick: () => api('POST', '/api/room/join', { room_id: roomId }).then(() => {
        document.dispatchEvent(new CustomEvent('enclavr:rooms-changed', { detail: {} }));
        restart();
      }, toastError),
    }) : null;
    failure(el, e, join);
  });
  return () => view.destroy();
}

export function mountConversation(el, { peerId, groupId }) {
  return peerId ? direct(el, peerId) : group(el, groupId);
}

function direct(el, peerId) {
  const source = dmSource(peerId);
  const view = chatView(source, {});
  const who = h('span', { class: 'chat-who' });
  const name = h('h1', { class: 'chat-name' }, 'Loading…');
  const blockBtn = h('button', { type: 'button', class: 'chat-block', hidden: true });
  const header = h('header', { class: 'chat-header' }, who, h('div', { class: 'chat-title' }, name), h('div', { class: 'chat-tools' }, blockBtn));
  frame(el, view, header);
  let peerName = '';

  const showPresence = (status) => {
    who.querySelector('.dot')?.replaceWith(presenceDot(status));
  };
  const offPresence = userEvents.on('presence', (id, status) => { if (id === peerId) showPresence(status); });

  function showBlocked() {
    blockBtn.textContent = source.blocked ? 'Unblock' : 'Block';
    blockBtn.classList.toggle('danger', !source.blocked);
    view.composer.disable(source.blocked ? `You blocked ${peerName}. Unblock them to send messages.` : null);
  }

  blockBtn.addEventListener('click', async () => {
    const on = !source.blocked;
    const ok = await confirmDialog(on ? `Block ${peerName}?` : `Unblock ${peerName}?`,
      on ? 'They will not be able to send you direct messages or friend requests, and you will not be able to message them.'
        : 'They will be able to send you direct messages again.',
      on ? 'Block' : 'Unblock');
    if (!ok) return;
    try { await source.setBlocked(on); showBlocked(); } catch (e) { toastError(e); }
  });

  view.ready.then((peer) => {
    peerName = displayName(peer);
    name.textContent = peerName;
    replace(who, avatar(peer, 32), presenceDot(presenceOf(peerId)));
    view.composer.textarea.placeholder = `Message ${peerName}`;
    blockBtn.hidden = false;
    showBlocked();
    api('GET', '/api/presence/user', undefined, { user_id: peerId })
      .then((p) => p?.status && setPresence(peerId, p.status)).catch(() => {});
  }).catch((e) => { view.destroy(); failure(el, e); });
  return () => { offPresence(); view.destroy(); };
}

function group(el, groupId) {
  const source = groupSource(groupId);
  const name = h('h1', { class: 'chat-name' }, 'Loading…');
  const desc = h('p', { class: 'chat-desc' });
  const showInfo = () => {
    const g = source.group;
    if (!g) return;
    name.textContent = g.name;
    desc.textContent = source.members.map(displayName).join(', ');
  };
  const view = chatView(source, { onInfo: showInfo });
  frame(el, view, h('header', { class: 'chat-header' }, h('div', { class: 'chat-title' }, name, desc)));
  view.ready.then(() => {
    showInfo();
    view.composer.textarea.placeholder = `Message ${source.group.name}`;
  }).catch((e) => { view.destroy(); failure(el, e); });
  return () => view.destroy();
}
