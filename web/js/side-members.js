// The members panel of a room (#panel): members by role with presence,
// "Message" for each other member, role changes and removal for those my
// role outranks (docs/permissions.md), and "Leave room".
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { live } from './live.js';
import { replayer } from './replay.js';
import { session } from './session.js';
import { avatar, confirmDialog, toastError } from './ui.js';
import { displayName, getUser, presenceOf, setPresence } from './users.js';
import { keepFocus, roomsChanged, userDot } from './side-util.js';
import { roomById } from './side-rooms.js';

const ROLES = ['owner', 'admin', 'moderator', 'member'];
const RANK = { member: 1, moderator: 2, admin: 3, owner: 4 };
const HEADING = { owner: 'Owner', admin: 'Admins', moderator: 'Moderators', member: 'Members' };
const LABEL = { owner: 'Owner', admin: 'Admin', moderator: 'Moderator', member: 'Member' };

export function mountMembers(panel, roomId) {
  const me = session.user?.id;
  const members = new Map(); // user id -> {user_id, username, display_name, avatar_url, role}
  const list = h('div', { class: 'members-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  let expanded = null;
  let gone = false;

  const myRank = () => Math.max(session.user?.is_admin ? 4 : 0, RANK[members.get(me)?.role] ?? 0);
  const userOf = (m) => ({ id: m.user_id, username: m.username, display_name: m.display_name });

  const replay = replayer();
  const load = () => replay.read(async (settle) => {
    const [ms, online] = await Promise.all([
      api('GET', '/api/room/members', undefined, { room_id: roomId }),
      api('GET', '/api/presence/room', undefined, { room_id: roomId }).catch(() => []),
    ]);
    if (gone) return;
    members.clear();
    for (const m of ms ?? []) members.set(m.user_id, m);
    const seen = new Map((online ?? []).map((p) => [p.user_id, p.status]));
    for (const id of members.keys()) setPresence(id, seen.get(id) ?? 'offline');
    settle();
    list.removeAttribute('aria-busy');
    render();
  });

  const toggle = (id) => { expanded = expanded === id ? null : id; render(); };

  function collapseOnEscape(e, id) {
    if (e.key !== 'Escape' || expanded !== id) return;
    e.stopPropagation();
    expanded = null;
    render();
    $(`[data-focus-key="m-${CSS.escape(id)}"]`, list)?.focus();
  }

  async function setRole(m, role, select) {
    try { await api('POST', '/api/room/member/role', { room_id: roomId, user_id: m.user_id, role }); m.role = role; render(); } catch (e) { toastError(e); select.value = m.role; }
  }

  async function remove(m) {
    if (!await confirmDialog('Remove member', `Remove ${displayName(userOf(m))} from this room?`, 'Remove')) return;
    try {
      await api('DELETE', '/api/room/member', undefined, { room_id: roomId, user_id: m.user_id });
      members.delete(m.user_id);
      render();
    } catch (e) { toastError(e); }
  }

  function actions(m) {
    const rank = myRank();
    const outranked = rank > RANK[m.role];
    const roleSelect = rank >= 3 && outranked ? h('select', { 'aria-label': `Role of ${displayName(userOf(m))}`,
      onchange: (e) => setRole(m, e.target.value, e.target) },
    ROLES.filter((r) => RANK[r] < rank && r !== 'owner' || r === m.role)
      .map((r) => h('option', { value: r, text: LABEL[r], selected: r === m.role }))) : null;
    return h('div', { class: 'member-actions', id: `member-actions-${m.user_id}`, role: 'group', 'aria-label': `Actions for ${displayName(userOf(m))}` },
      h('a', { class: 'button', href: `#/dm/${m.user_id}`, text: 'Message' }),
      roleSelect,
      rank >= 2 && outranked ? h('button', { type: 'button', class: 'danger', text: 'Remove from room', onclick: () => remove(m) }) : null);
  }

  function memberRow(m) {
    const mine = m.user_id === me;
    const open = expanded === m.user_id;
    const face = [
      h('span', { class: 'side-avatar' }, avatar(userOf(m), 28), userDot(m.user_id)),
      h('span', { class: 'member-name', text: mine ? `${displayName(userOf(m))} (you)` : displayName(userOf(m)) }),
      h('span', { class: 'member-role', text: LABEL[m.role] ?? m.role }),
    ];
    return h('li', {
      class: 'member', 'data-testid': 'member', 'data-user-id': m.user_id, 'data-role': m.role,
      'data-presence': presenceOf(m.user_id), 'data-presence-for': m.user_id,
      onkeydown: (e) => collapseOnEscape(e, m.user_id),
    }, mine ? h('div', { class: 'member-face' }, face)
      : h('button', { type: 'button', class: 'member-face', 'aria-expanded': String(open),
        'aria-controls': `member-actions-${m.user_id}`, 'data-focus-key': `m-${m.user_id}`,
        onclick: () => toggle(m.user_id) }, face),
    open && !mine ? actions(m) : null);
  }

  function render() {
    const byName = (a, b) => displayName(userOf(a)).localeCompare(displayName(userOf(b)));
    const all = [...members.values()];
    keepFocus(list, () => replace(list, ROLES.map((role) => {
      const ms = all.filter((m) => m.role === role).sort(byName);
      return ms.length ? [h('h3', { class: 'members-role', text: `${HEADING[role]} — ${ms.length}` }),
        h('ul', { class: 'side-list' }, ms.map(memberRow))] : null;
    })));
  }

  async function leave() {
    const name = roomById(roomId)?.name ?? 'this room';
    if (!await confirmDialog('Leave room', `Leave ${name}?`, 'Leave room')) return;
    try {
      await api('POST', '/api/room/leave', { room_id: roomId });
      roomsChanged({ left: roomId });
      location.hash = '#/';
    } catch (e) { toastError(e); }
  }

  const ev = (fn) => (e) => {
    if (e.room_id === roomId && !gone) replay.event(() => fn(e.payload ?? {}, e));
  };
  const offs = [
    live.on('member-joined', ev((p) => {
      const m = { user_id: p.user_id, username: p.username, display_name: '', role: p.role ?? 'member' };
      members.set(p.user_id, m);
      render();
      getUser(p.user_id).then((u) => { if (members.get(p.user_id) === m) { m.display_name = u.display_name; render(); } });
      // Their presence went to rooms they were in; this one is new to them.
      api('GET', '/api/presence/user', undefined, { user_id: p.user_id })
        .then((s) => setPresence(p.user_id, s.status)).catch(() => {});
    })),
    live.on('member-left', ev((p) => { if (members.delete(p.user_id)) render(); })),
    live.on('member-role-changed', ev((p) => {
      const m = members.get(p.user_id);
      if (m) { m.role = p.role; render(); }
    })),
    live.on('reconnected', () => load().catch(() => {})),
  ];

  const section = h('section', { class: 'members', 'aria-labelledby': 'members-h' },
    h('h2', { id: 'members-h', class: 'side-h', text: 'Members' }), list,
    h('button', { type: 'button', class: 'danger members-leave', text: 'Leave room', onclick: leave }));
  panel.append(section);
  live.watchRoom(roomId);
  load().catch((e) => { if (!gone) replace(list, h('p', { class: 'form-error', text: e.message })); });
  return () => { gone = true; offs.forEach((off) => off()); section.remove(); };
}
