// Two-factor authentication (docs/auth.md, /api/auth/2fa/*): set up (QR
// code of the otpauth:// URI, the key for typing in, recovery codes, a
// code to confirm), then disable or replace the recovery codes, each with
// the password or a code as proof.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { busy, field } from './ui.js';
import { qrSvg } from './settings-qr.js';
import { codeList, say, section, statusLine } from './settings-ui.js';

function codeInput() {
  return h('input', {
    name: 'code', 'aria-label': 'Verification code', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: 6, required: true, class: 'otp',
  });
}

const proofInput = () => h('input', { name: 'proof', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 });

// A form with a proof (password or code) and one action.
function proofForm(label, buttonText, onProof, onCancel) {
  const proof = proofInput();
  const line = statusLine();
  const form = h('form', { class: 'settings-form' }, field(label, proof), line,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: buttonText }),
      h('button', { type: 'button', text: 'Cancel', onclick: onCancel })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try { await onProof(proof.value.trim()); } catch (ex) { say(line, ex.message); proof.select(); }
    });
  });
  setTimeout(() => proof.focus());
  return form;
}

export function twoFactorSection(bus) {
  const body = h('div', { class: 'twofa' });
  let stopped = false;

  const setEnabled = (on) => session.setUser({ two_factor_enabled: on });

  function showOff(message) {
    replace(body,
      h('p', { 'data-testid': 'twofa-status', text: 'Two-factor authentication is off.' }),
      message ? h('p', { class: 'form-ok', role: 'status', text: message }) : null,
      h('p', { class: 'hint', text: 'With it on, signing in also asks for a code from an authenticator app on your phone.' }),
      h('button', { type: 'button', class: 'primary', text: 'Set up two-factor authentication', onclick: (e) => startSetup(e.currentTarget) }));
  }

  async function startSetup(button) {
    button.disabled = true;
    try {
      const s = await api('POST', '/api/auth/2fa/setup');
      const qr = await qrSvg(s.qr_code_url, 'QR code for your authenticator app');
      if (!stopped) showSetup(s, qr);
    } catch (ex) {
      button.disabled = false;
      replace(body, h('p', { class: 'form-error', role: 'alert', text: ex.message }), body.lastChild);
    }
  }

  function showSetup(s, qr) {
    const code = codeInput();
    const line = statusLine();
    const form = h('form', { class: 'settings-form' },
      h('h3', { text: '3. Enter the code the app shows' }),
      field('Verification code', code), line,
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Enable' }),
        h('button', { type: 'button', text: 'Cancel', onclick: () => showOff() })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form, async () => {
        try {
          await api('POST', '/api/auth/2fa/enable', { code: code.value.trim() });
          setEnabled(true);
          showOn('Done. Keep your recovery codes somewhere safe.');
        } catch (ex) { say(line, ex.message); code.select(); }
      });
    });
    replace(body,
      h('h3', { text: '1. Scan this QR code with your authenticator app' }),
      h('div', { class: 'qr-box', 'data-testid': 'totp-qr' }, qr),
      h('p', {}, 'Or type this key into the app: ',
        h('code', { class: 'totp-secret', 'data-testid': 'totp-secret', text: s.secret })),
      h('h3', { text: '2. Save your recovery codes' }),
      h('p', { class: 'hint', text: 'Each code signs you in once if you lose your phone. They are shown only now.' }),
      codeList(s.recovery_codes),
      form);
    code.focus();
  }

  async function showOn(message) {
    const left = h('p', { class: 'hint' });
    replace(body,
      h('p', { 'data-testid': 'twofa-status', text: 'Two-factor authentication is on.' }),
      message ? h('p', { class: 'form-ok', role: 'status', text: message }) : null,
      left,
      h('div', { class: 'row' },
        h('button', { type: 'button', text: 'New recovery codes', onclick: showNewCodes }),
        h('button', { type: 'button', class: 'danger', text: 'Disable', onclick: showDisable })));
    try {
      const r = await api('GET', '/api/auth/2fa/recovery-codes');
      left.textContent = `${r.remaining} recovery code${r.remaining === 1 ? '' : 's'} left.`;
    } catch { /* not essential */ }
  }

  function showDisable() {
    replace(body, h('p', { text: 'Turning two-factor authentication off signs you out on every other device.' }),
      proofForm('Password or authentication code', 'Disable two-factor authentication', async (code) => {
        await api('POST', '/api/auth/2fa/disable', { code });
        setEnabled(false);
        bus.emit('sessions');
        showOff('Two-factor authentication is off.');
      }, () => showOn()));
  }

  function showNewCodes() {
    replace(body, h('p', { text: 'New codes replace all the old ones.' }),
      proofForm('Password or authentication code', 'Make new recovery codes', async (code) => {
        const r = await api('POST', '/api/auth/2fa/recovery-codes', { code });
        replace(body, h('p', { role: 'status', text: 'Your new recovery codes (the old ones no longer work):' }),
          codeList(r.codes), h('button', { type: 'button', text: 'Done', onclick: () => showOn() }));
      }, () => showOn()));
  }

  async function load() {
    const on = session.user?.two_factor_enabled;
    if (on) showOn(); else showOff();
    try {
      const r = await api('GET', '/api/auth/2fa/status');
      if (stopped || r.enabled === !!on) return;
      setEnabled(r.enabled);
      if (r.enabled) showOn(); else showOff();
    } catch { /* keep what the session says */ }
  }

  load();
  return { el: section('twofa', 'Two-factor authentication', body), stop: () => { stopped = true; } };
}
