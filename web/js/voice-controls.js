// The call's buttons (Mute, Deafen, Leave voice) and the device pickers,
// shown in the panel of the call's room. update() redraws them in place, so focus stays put.
import { h } from './dom.js';
import { field, toastError } from './ui.js';
import {
  call, leaveVoice, setDeafened, setMuted, setSpeaker, switchMic,
} from './voice-call.js';
import { canPickSpeaker, deviceSelect } from './voice-devices.js';

function toggle(onclick) {
  return h('button', { type: 'button', class: 'voice-toggle', onclick });
}

function show(button, pressed, offLabel, onLabel) {
  const label = pressed ? onLabel : offLabel;
  button.textContent = label;
  button.setAttribute('aria-label', label);
  button.setAttribute('aria-pressed', String(pressed));
}

export function callControls() {
  const mute = toggle(() => setMuted(!call.muted));
  const deafen = toggle(() => setDeafened(!call.deafened));
  const leave = h('button', { type: 'button', class: 'danger', text: 'Leave voice', onclick: () => leaveVoice() });
  const mic = deviceSelect('audioinput', () => switchMic().catch(toastError));
  const speaker = canPickSpeaker() ? deviceSelect('audiooutput', setSpeaker) : null;
  const el = h('div', { class: 'voice-controls', hidden: true },
    h('div', { class: 'voice-buttons' }, mute, deafen, leave),
    h('div', { class: 'voice-devices' }, field('Microphone', mic.select),
      speaker ? field('Speaker', speaker.select) : null));
  let hadStream = false;

  // here: the call is in the room this panel shows.
  function update(here) {
    el.hidden = !here;
    show(mute, call.muted, 'Mute', 'Unmute');
    show(deafen, call.deafened, 'Deafen', 'Undeafen');
    // Device names are readable once the microphone is allowed.
    if (!!call.stream !== hadStream) {
      hadStream = !!call.stream;
      if (hadStream) { mic.refill(); speaker?.refill(); }
    }
  }

  return { el, update, focus: () => mute.focus(), stop: () => { mic.stop(); speaker?.stop(); } };
}
