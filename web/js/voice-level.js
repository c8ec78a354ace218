// Audio levels from WebAudio: one AnalyserNode per stream (the microphone
// and each peer's), read ten times a second while any is watched. A level
// is 0..1 on a decibel scale (-60 dB..0 dB), held with a short decay so
// that a meter does not flicker between syllables.
import { Emitter } from './dom.js';

const TICK_MS = 100;
const DECAY = 0.8;

let ctx = null;
let timer = 0;
const meters = new Map(); // key (user id) -> {source, analyser, buf, level}
export const levelEvents = new Emitter(); // 'levels' after each reading

export function watchLevel(key, stream) {
  unwatchLevel(key);
  ctx ??= new AudioContext();
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  meters.set(key, { source, analyser, buf: new Float32Array(analyser.fftSize), level: 0 });
  if (!timer) timer = setInterval(tick, TICK_MS);
}

export function unwatchLevel(key) {
  const m = meters.get(key);
  if (!m) return;
  meters.delete(key);
  m.source.disconnect();
  if (meters.size === 0) { clearInterval(timer); timer = 0; }
}

export const levelOf = (key) => meters.get(key)?.level ?? 0;
export const hasLevel = (key) => meters.has(key);

// Every meter gone and the audio context closed (the call ended).
export function stopLevels() {
  for (const key of [...meters.keys()]) unwatchLevel(key);
  ctx?.close().catch(() => {});
  ctx = null;
}

function peakOf(m) {
  m.analyser.getFloatTimeDomainData(m.buf);
  let peak = 0;
  for (let i = 0; i < m.buf.length; i++) {
    const v = Math.abs(m.buf[i]);
    if (v > peak) peak = v;
  }
  return peak;
}

function tick() {
  if (ctx?.state === 'suspended') ctx.resume().catch(() => {});
  for (const m of meters.values()) {
    const peak = peakOf(m);
    const now = peak > 0 ? Math.min(1, Math.max(0, 1 + Math.log10(peak) / 3)) : 0;
    const held = Math.max(now, m.level * DECAY);
    m.level = held < 0.01 ? 0 : Math.round(held * 1000) / 1000;
  }
  levelEvents.emit('levels');
}
