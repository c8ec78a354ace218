// #/settings: the account's profile, password, two-factor authentication,
// sessions and privacy, one card each (settings-*.js).
// mountSettings(view) fills the view; returns its cleanup.
import { Emitter, h, replace } from './dom.js';
import { passwordSection } from './settings-password.js';
import { privacySection } from './settings-privacy.js';
import { profileSection } from './settings-profile.js';
import { sessionsSection } from './settings-sessions.js';
import { twoFactorSection } from './settings-2fa.js';

export function mountSettings(el) {
  const bus = new Emitter(); // 'sessions': the list of sessions changed
  const parts = [profileSection(), passwordSection(bus), twoFactorSection(bus), sessionsSection(bus), privacySection()];
  replace(el, h('div', { class: 'settings' },
    h('h1', { text: 'Account settings' }), parts.map((p) => p.el)));
  document.title = 'Settings · Enclavr';
  return () => {
    parts.forEach((p) => p.stop?.());
    document.title = 'Enclavr';
  };
}
