// A small bar fixed to the bottom of the page while in a call, on every
// view but the call's own room (whose panel has the full controls):
// "In voice: <channel> — state — Mute — Leave".
import { h } from './dom.js';
import { call, callEvents, leaveVoice, setMuted, stateText } from './voice-call.js';

let bar = null;
let roomOnScreen = null;

function build() {
  const link = h('a', { class: 'voice-bar-channel' });
  const state = h('span', { class: 'voice-bar-state', role: 'status' });
  const mute = h('button', { type: 'button', onclick: () => setMuted(!call.muted) });
  const leave = h('button', { type: 'button', class: 'danger', text: 'Leave', onclick: () => leaveVoice() });
  bar = h('div', { class: 'voice-bar', role: 'region', 'aria-label': 'Voice call', 'data-testid': 'voice-bar', hidden: true },
    h('span', { class: 'voice-bar-label' }, 'In voice: ', link), state, mute, leave);
  bar.parts = { link, state, mute };
  document.body.append(bar);
}

function update() {
  const ch = call.channel;
  const show = !!ch && ch.room_id !== roomOnScreen;
  document.body.classList.toggle('in-voice', show);
  if (!show) { if (bar) bar.hidden = true; return; }
  if (!bar) build();
  const { link, state, mute } = bar.parts;
  link.href = `#/room/${ch.room_id}`;
  link.textContent = ch.name;
  state.textContent = stateText(call.state);
  state.dataset.state = call.state;
  mute.textContent = call.muted ? 'Unmute' : 'Mute';
  mute.setAttribute('aria-pressed', String(call.muted));
  bar.hidden = false;
}

// The panel of roomId is on screen (null: none).
export function setRoomOnScreen(roomId) {
  roomOnScreen = roomId;
  update();
}

callEvents.on('change', update);
