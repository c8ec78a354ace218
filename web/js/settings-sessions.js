// Where the account is signed in (GET /api/auth/sessions): revoke one, sign
// out the others, or everywhere (revoke-all ends this session too, so the
// app returns to the sign-in form).
import { api } from './api.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { confirmDialog, timeLabel, toast, toastError } from './ui.js';
import { section } from './settings-ui.js';

function deviceOf(ua) {
  if (!ua) return 'Unknown device';
  const browser = [['Edge', /Edg\//], ['Opera', /OPR\//], ['Firefox', /Firefox\//], ['Chrome', /Chrom(e|ium)\//],
    ['Safari', /Safari\//]].find(([, re]) => re.test(ua))?.[0];
  const os = [['Android', /Android/], ['iOS', /iPhone|iPad/], ['Windows', /Windows/], ['macOS', /Mac OS X/],
    ['Linux', /Linux/]].find(([, re]) => re.test(ua))?.[0];
  return browser ? `${browser}${os ? ` on ${os}` : ''}` : ua.slice(0, 60);
}

export function sessionsSection(bus) {
  const list = h('ul', { class: 'sessions', 'aria-label': 'Signed-in sessions' });
  const others = h('button', { type: 'button', text: 'Sign out other sessions', onclick: () => signOutOthers() });
  const all = h('button', { type: 'button', class: 'danger', text: 'Sign out everywhere', onclick: () => signOutAll() });
  let sessions = [];
  let stopped = false;

  function row(s) {
    return h('li', { class: 'session', 'data-testid': 'session', 'data-session-id': s.id, 'data-current': String(!!s.current) },
      h('div', { class: 'session-main' },
        h('strong', { text: deviceOf(s.user_agent), title: s.user_agent || '' }),
        s.current ? h('span', { class: 'badge', text: 'This device' }) : null),
      h('div', { class: 'hint' }, `${s.ip_address || 'unknown address'} · last active `, timeLabel(s.last_used_at),
        ' · signed in ', timeLabel(s.created_at)),
      s.current ? null : h('button', {
        type: 'button', text: 'Revoke', 'aria-label': `Revoke: ${deviceOf(s.user_agent)}, ${s.ip_address || ''}`,
        onclick: () => revoke(s),
      }));
  }

  async function load() {
    try {
      const r = await api('GET', '/api/auth/sessions');
      if (stopped) return;
      sessions = [...r.sessions].sort((a, b) => (b.current - a.current)
        || String(b.last_used_at).localeCompare(String(a.last_used_at)));
      replace(list, sessions.map(row));
      others.disabled = sessions.every((s) => s.current);
    } catch (e) { if (!stopped) replace(list, h('li', { class: 'form-error', text: e.message })); }
  }

  async function revoke(s) {
    try {
      await api('POST', '/api/auth/sessions/revoke', undefined, { id: s.id });
      toast('Session revoked.');
    } catch (e) { toastError(e); }
    load();
  }

  async function signOutOthers() {
    const rest = sessions.filter((s) => !s.current);
    const done = await Promise.allSettled(rest.map((s) => api('POST', '/api/auth/sessions/revoke', undefined, { id: s.id })));
    const failed = done.filter((d) => d.status === 'rejected').length;
    toast(failed ? `${failed} session(s) could not be signed out.` : 'Your other sessions were signed out.', failed ? 'error' : 'info');
    load();
  }

  async function signOutAll() {
    if (!await confirmDialog('Sign out everywhere', 'Every session ends, this one too: you will need to sign in again here.', 'Sign out everywhere')) return;
    try {
      await api('POST', '/api/auth/sessions/revoke-all');
      session.clear();
    } catch (e) { toastError(e); }
  }

  const off = bus.on('sessions', () => setTimeout(load, 500));
  load();
  return {
    el: section('sessions', 'Active sessions', list, h('div', { class: 'row' }, others, all)),
    stop: () => { stopped = true; off(); },
  };
}
