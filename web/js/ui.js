// Small widgets shared by every view.
import { h } from './dom.js';

// A message for a few seconds, read out by screen readers.
export function toast(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h('div', { class: `toast toast-${kind}`, text });
  box.append(t);
  setTimeout(() => t.remove(), 5000);
}

// Shows an error from the API (ApiError) or anything else.
export const toastError = (e) => toast(e?.message || String(e), 'error');

// A modal <dialog>: body is a node; actions [{label, value, primary}].
// Resolves with the chosen value (undefined on Escape/cancel).
export function dialog(title, body, actions = [{ label: 'Close', value: undefined }]) {
  return new Promise((resolve) => {
    const d = h('dialog', { class: 'dialog', 'aria-label': title },
      h('h2', { text: title }), body,
      h('div', { class: 'dialog-actions' }, actions.map((a) => h('button', {
        type: 'button', class: a.primary ? 'primary' : '', text: a.label,
        onclick: () => { d.returnValue = 'x'; d.close(); resolve(a.value); },
      }))));
    d.addEventListener('close', () => { d.remove(); resolve(undefined); });
    document.body.append(d);
    d.showModal();
  });
}

export const confirmDialog = (title, text, label = 'OK') =>
  dialog(title, h('p', { text }), [{ label: 'Cancel', value: false }, { label, value: true, primary: true }]);

// A labelled form field: field('Password', h('input', {type: 'password'})).
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id, text: label }), input,
    hint ? h('small', { class: 'hint', text: hint }) : null);
}

export const presenceDot = (status) => h('span', {
  class: `dot dot-${status || 'offline'}`, role: 'img', 'aria-label': status || 'offline',
  title: status || 'offline',
});

// Initials on a colour picked from the id (no image requests leave the host).
export function avatar(user, size = 32) {
  const name = user?.display_name || user?.username || '?';
  let hue = 0;
  for (const c of user?.id || name) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  return h('span', {
    class: 'avatar', 'aria-hidden': 'true',
    style: `--size:${size}px;background:hsl(${hue} 45% 42%)`,
  }, name.slice(0, 1).toUpperCase());
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

// "14:03" today, "12 Nov 2026, 14:03" otherwise; full text in the title.
export function timeLabel(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return h('time', { text: '' });
  const today = new Date().toDateString() === d.toDateString();
  return h('time', {
    datetime: d.toISOString(), title: fullFmt.format(d),
    text: today ? timeFmt.format(d) : `${dayFmt.format(d)}, ${timeFmt.format(d)}`,
  });
}

// Disables a form's controls while fn runs; shows its error.
export async function busy(form, fn) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')];
  controls.forEach((c) => { c.dataset.wasDisabled = c.disabled; c.disabled = true; });
  try { return await fn(); } finally {
    controls.forEach((c) => { c.disabled = c.dataset.wasDisabled === 'true'; });
  }
}
