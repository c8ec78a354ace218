// The microphone and speaker choice: remembered in localStorage, offered as
// <select>s filled from enumerateDevices() (names appear once the page may
// use the microphone) and refilled when devices come and go.
import { h } from './dom.js';

const KEYS = { audioinput: 'enclavr.voice.mic', audiooutput: 'enclavr.voice.speaker' };

export const savedDevice = (kind) => localStorage.getItem(KEYS[kind]) || '';
export const saveDevice = (kind, id) => localStorage.setItem(KEYS[kind], id);
export const canPickSpeaker = () => typeof HTMLMediaElement !== 'undefined'
  && 'setSinkId' in HTMLMediaElement.prototype;

// getUserMedia constraints for the chosen microphone ("ideal": a device
// that went away falls back to the default).
export function micConstraints(exact = false) {
  const id = savedDevice('audioinput');
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (id) audio.deviceId = exact ? { exact: id } : { ideal: id };
  return { audio, video: false };
}

async function fill(select, kind) {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { /* none */ }
  const list = devices.filter((d) => d.kind === kind);
  const chosen = savedDevice(kind);
  const name = kind === 'audioinput' ? 'Microphone' : 'Speaker';
  select.replaceChildren(h('option', { value: '', text: 'System default' }),
    ...list.filter((d) => d.deviceId && d.deviceId !== 'default').map((d, i) => h('option', {
      value: d.deviceId, text: d.label || `${name} ${i + 1}`, selected: d.deviceId === chosen,
    })));
  if (![...select.options].some((o) => o.selected && o.value === chosen)) select.value = '';
}

// A select for 'audioinput' or 'audiooutput'; onPick(deviceId) on change.
// Returns {select, stop}.
export function deviceSelect(kind, onPick) {
  const label = kind === 'audioinput' ? 'Microphone' : 'Speaker';
  const select = h('select', {
    'aria-label': label, 'data-testid': kind === 'audioinput' ? 'voice-mic' : 'voice-speaker',
    onchange: () => { saveDevice(kind, select.value); onPick(select.value); },
  });
  const refill = () => fill(select, kind);
  refill();
  navigator.mediaDevices?.addEventListener('devicechange', refill);
  return { select, refill, stop: () => navigator.mediaDevices?.removeEventListener('devicechange', refill) };
}
