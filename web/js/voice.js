// The room's voice section in the side panel: its voice channels, who is
// in each (with speaking indicators), Join/Leave, the call's controls and,
// for moderators and up, a form for a new channel. The call itself lives
// in voice-call.js and outlives this panel; the panel re-attaches to it.
//
// mountVoice(panel, roomId) appends the section; returns its cleanup.
import { api } from './api.js';
import { $$, h, replace } from './dom.js';
import { live } from './live.js';
import { replayer } from './replay.js';
import { session } from './session.js';
import { avatar, busy, toastError } from './ui.js';
import { displayName } from './users.js';
import { setRoomOnScreen } from './voice-bar.js';
import {
  call, callEvents, joinVoice, levelFor, peerStateOf, speakingFor, stateText,
} from './voice-call.js';
import { callControls } from './voice-controls.js';
import { levelEvents } from './voice-level.js';

const MANAGERS = new Set(['moderator', 'admin', 'owner']);
const ROOM_EVENTS = ['voice-joined', 'voice-left', 'voice-muted', 'voice-deafened', 'voice-speaking',
  'voice-channel-created', 'voice-channel-updated', 'voice-channel-deleted'];

function flagsOf(p) {
  const inCall = call.joined && p.user_id === session.user?.id;
  const muted = inCall ? call.muted : p.is_muted;
  const deafened = inCall ? call.deafened : p.is_deafened;
  return [p.is_server_muted ? 'server muted' : muted ? 'muted' : null, deafened ? 'deafened' : null]
    .filter(Boolean);
}

function participantRow(p, inCall) {
  const level = inCall ? levelFor(p.user_id) : 0;
  const speaking = inCall ? speakingFor(p.user_id) : !!p.is_speaking;
  const peer = inCall ? peerStateOf(p.user_id) : null;
  return h('li', {
    class: 'voice-participant', 'data-testid': 'voice-participant', 'data-user-id': p.user_id,
    'data-speaking': String(speaking), 'data-level': String(level), 'data-peer-state': peer,
  },
  avatar(p, 24),
  h('span', { class: 'vp-name', text: displayName(p) }),
  flagsOf(p).map((f) => h('span', { class: 'vp-flag', text: f })),
  peer && !['connected', 'self'].includes(peer) ? h('span', { class: 'vp-flag', text: 'connecting' }) : null,
  h('span', { class: 'vp-meter', 'aria-hidden': 'true' },
    h('span', { class: 'vp-meter-fill', style: `width:${Math.round(level * 100)}%` })));
}

// Levels and speaking of the call's rows, in place, ten times a second.
function paintLevels(list) {
  if (!call.joined) return;
  for (const li of $$(`[data-channel-id="${call.channel.id}"] [data-testid=voice-participant]`, list)) {
    const level = levelFor(li.dataset.userId);
    li.dataset.level = String(level);
    li.dataset.speaking = String(speakingFor(li.dataset.userId));
    li.dataset.peerState = peerStateOf(li.dataset.userId);
    li.lastChild.firstChild.style.width = `${Math.round(level * 100)}%`;
  }
}

function createForm(roomId, reload) {
  const name = h('input', {
    name: 'voice-channel-name', 'aria-label': 'Voice channel name', placeholder: 'New voice channel',
    maxlength: 100, required: true,
  });
  const form = h('form', { class: 'voice-create' }, name,
    h('button', { type: 'submit', text: 'Add voice channel' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        await api('POST', '/api/voice-channel/create', { room_id: roomId, name: name.value.trim() });
        name.value = '';
        await reload();
      } catch (ex) { toastError(ex); }
    });
  });
  return form;
}

export function mountVoice(el, roomId) {
  const channels = [];     // as GET /api/voice-channels
  const parts = new Map(); // channel id -> Map(user id -> participant)
  const replay = replayer();
  const list = h('ul', { class: 'voice-channels', 'aria-label': 'Voice channels' });
  const state = h('p', { class: 'voice-state', 'data-testid': 'voice-state', role: 'status' });
  const note = h('p', { class: 'voice-note', hidden: true });
  const controls = callControls();
  const formSlot = h('div');
  const section = h('section', { class: 'voice', 'aria-labelledby': 'voice-title', 'data-testid': 'voice' },
    h('h2', { id: 'voice-title', text: 'Voice' }), state, controls.el, note, list, formSlot);
  el.append(section);
  let stopped = false;

  async function join(ch, button) {
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    try { await joinVoice(ch); } catch (e) {
      toastError(e.name === 'NotAllowedError' ? new Error('The microphone is not allowed for this site.') : e);
    }
    if (stopped) return;
    render();
    if (hadFocus && call.channel?.id === ch.id) controls.focus();
  }

  function channelItem(ch) {
    const here = call.channel?.id === ch.id;
    const people = [...(parts.get(ch.id)?.values() ?? [])];
    return h('li', { class: `voice-channel${here ? ' current' : ''}`, 'data-testid': 'voice-channel', 'data-channel-id': ch.id },
      h('div', { class: 'vc-head' },
        h('span', { class: 'vc-name', text: ch.name }),
        h('span', { class: 'vc-count' }, `${people.length}/${ch.max_participants}`,
          h('span', { class: 'visually-hidden', text: ' places taken' })),
        here ? null : h('button', {
          type: 'button', class: 'vc-join', text: 'Join voice', 'data-key': `join-${ch.id}`,
          'aria-label': `Join voice: ${ch.name}`, disabled: call.state === 'joining',
          onclick: (e) => join(ch, e.currentTarget),
        })),
      people.length ? h('ul', { class: 'vc-people' }, people.map((p) => participantRow(p, here && call.joined))) : null);
  }

  function render() {
    const focused = document.activeElement?.dataset?.key;
    const here = call.channel?.room_id === roomId;
    const text = here ? `${stateText(call.state)}: ${call.channel.name}`
      : call.channel ? `In voice in another room: ${call.channel.name}` : stateText('idle');
    if (state.textContent !== text) state.textContent = text;
    state.dataset.state = here ? call.state : 'idle';
    controls.update(here);
    replace(list, channels.map(channelItem));
    if (!channels.length) list.append(h('li', { class: 'voice-empty', text: 'No voice channels yet.' }));
    if (focused) $$(`[data-key="${focused}"]`, list)[0]?.focus();
  }

  async function loadParticipants(ch) {
    const ps = await api('GET', '/api/voice-channel/participants', undefined, { channel_id: ch.id }).catch(() => []);
    parts.set(ch.id, new Map(ps.map((p) => [p.user_id, p])));
  }

  const load = () => replay.read(async (settle) => {
    try {
      const [list_, room] = await Promise.all([
        api('GET', '/api/voice-channels', undefined, { room_id: roomId }),
        api('GET', '/api/room', undefined, { id: roomId }).catch(() => null),
      ]);
      await Promise.all(list_.map(loadParticipants));
      if (stopped) return;
      channels.splice(0, channels.length, ...list_);
      settle();
      note.hidden = true;
      const manager = MANAGERS.has(room?.role) || session.user?.is_admin;
      if (manager && !formSlot.firstChild) formSlot.append(createForm(roomId, load));
      render();
    } catch (e) {
      if (stopped) return;
      note.hidden = false;
      note.textContent = e.status === 403 || e.status === 404 ? 'Join the room to use its voice channels.' : e.message;
      render();
    }
  });

  // The call knows someone this list lacks (an event missed while the
  // room's stream was being set up): read the lists again.
  function checkCall() {
    const here = call.joined && parts.get(call.channel?.id);
    if (here && !replay.busy && [...call.members.keys()].some((id) => !here.has(id))) load();
  }

  function onEvent(f) {
    if (f.room_id !== roomId) return;
    if (f.type.startsWith('voice-channel-')) { load(); return; }
    replay.event(() => apply(f));
    render();
  }

  function apply(f) {
    const p = f.payload || {};
    if (f.type === 'voice-joined') {
      for (const m of parts.values()) m.delete(p.participant?.user_id);
      if (!parts.has(p.channel_id)) parts.set(p.channel_id, new Map());
      parts.get(p.channel_id).set(p.participant.user_id, p.participant);
    } else if (f.type === 'voice-left') {
      parts.get(p.channel_id)?.delete(p.user_id);
    } else {
      const row = parts.get(p.channel_id)?.get(p.user_id);
      if (!row) return;
      for (const k of ['is_muted', 'is_server_muted', 'is_deafened', 'is_speaking']) if (k in p) row[k] = p[k];
    }
  }

  const offs = [
    ...ROOM_EVENTS.map((t) => live.on(t, onEvent)),
    live.on('reconnected', load),
    callEvents.on('change', () => { render(); checkCall(); }),
    levelEvents.on('levels', () => paintLevels(list)),
  ];
  live.watchRoom(roomId);
  setRoomOnScreen(roomId);
  render();
  load();

  return () => {
    stopped = true;
    offs.forEach((off) => off());
    controls.stop();
    setRoomOnScreen(null);
    section.remove();
  };
}
