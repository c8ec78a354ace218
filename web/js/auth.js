// Signing in and up, with the second step for accounts that have 2FA.
import { publicApi } from './api.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { busy, field } from './ui.js';

function input(name, type, autocomplete, extra = {}) {
  return h('input', { name, type, autocomplete, required: true, ...extra });
}

const rememberBox = () => h('input', { type: 'checkbox', name: 'remember', id: 'remember' });
const rememberRow = (box) => h('div', { class: 'check' }, box, h('label', { for: 'remember', text: 'Remember me' }));

// One of the forms: its title and controls, then an error line, the submit
// button and what follows. submit() runs with the controls disabled; what it
// throws is shown in the error line, and onError(error) may add to that.
function authForm(root, { title, controls, label, after = [], submit, onError }) {
  const err = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'card auth-form', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title', text: title }), controls, err,
    h('button', { type: 'submit', class: 'primary', text: label }), after);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        await submit();
      } catch (ex) {
        err.textContent = ex.message;
        onError?.(ex, err);
      }
    });
  });
  replace(root, form);
  form.querySelector('input')?.focus();
}

// Login answered {require_2fa, user_id, challenge}: ask for the code.
function twoFactorStep(root, pending, remember) {
  const code = input('code', 'text', 'one-time-code', {
    inputmode: 'numeric', maxlength: 32, pattern: '[0-9A-Za-z \\-]{6,32}',
  });
  authForm(root, {
    title: 'Two-factor authentication',
    controls: [h('p', { text: 'Enter the 6-digit code from your authenticator app, or a recovery code.' }),
      field('Code', code)],
    label: 'Verify',
    after: h('button', { type: 'button', class: 'link', text: 'Back to sign in', onclick: () => showLogin(root) }),
    submit: async () => session.set(await publicApi('POST', '/api/auth/2fa/verify', {
      user_id: pending.user_id, challenge: pending.challenge, code: code.value.trim(),
    }), remember),
    onError: (ex, err) => {
      if (ex.code === 'invalid_challenge') err.textContent = 'That sign-in attempt expired. Sign in again.';
      code.select();
    },
  });
}

export function showLogin(root) {
  const user = input('username', 'text', 'username', { maxlength: 254 });
  const pass = input('password', 'password', 'current-password', { maxlength: 1024 });
  const remember = rememberBox();
  authForm(root, {
    title: 'Sign in to Enclavr',
    controls: [field('Username or email', user), field('Password', pass), rememberRow(remember)],
    label: 'Sign in',
    after: h('p', {}, 'No account yet? ', h('a', { href: '#/register', text: 'Create one' })),
    submit: async () => {
      const r = await publicApi('POST', '/api/auth/login', { username: user.value.trim(), password: pass.value });
      if (r.require_2fa) twoFactorStep(root, r, remember.checked);
      else session.set(r, remember.checked);
    },
    onError: () => pass.select(),
  });
}

export function showRegister(root) {
  const user = input('username', 'text', 'username', { maxlength: 32, minlength: 3, pattern: '[A-Za-z0-9_\\-]{3,32}' });
  const email = input('email', 'email', 'email', { maxlength: 254 });
  const pass = input('password', 'password', 'new-password', { maxlength: 1024, minlength: 8 });
  const remember = rememberBox();
  authForm(root, {
    title: 'Create your account',
    controls: [field('Username', user, '3–32 letters, digits, _ or -'), field('Email', email),
      field('Password', pass, 'At least 8 characters with upper and lower case, a digit and a symbol'),
      rememberRow(remember)],
    label: 'Create account',
    after: h('p', {}, 'Already have an account? ', h('a', { href: '#/login', text: 'Sign in' })),
    submit: async () => session.set(await publicApi('POST', '/api/auth/register', {
      username: user.value.trim(), email: email.value.trim(), password: pass.value,
    }), remember.checked),
  });
}
