// Rooms, conversations and members: the sidebar (my rooms, direct
// messages, my status, a link to browse), the browse view (#/browse) and
// the members panel of a room. The parts live in side-*.js.
//
// After joining, creating or leaving a room elsewhere in the client, call
// refreshRooms() or dispatch document event 'enclavr:rooms-changed'
// (detail {left: roomId} removes that room at once).
import { h, replace } from './dom.js';
import { sessionEvents } from './session.js';
import { mountDmSection } from './side-dms.js';
import { mountRoomsSection } from './side-rooms.js';
import { mountStatusSection } from './side-status.js';

export { mountBrowse } from './side-browse.js';
export { mountMembers } from './side-members.js';
export { refreshRooms } from './side-rooms.js';

let teardown = null;

// Built once per signed-in shell; a new shell (signing in again) or
// signing out ends the previous one.
export function mountSidebar(el) {
  teardown?.();
  const roomsPart = mountRoomsSection();
  const dmPart = mountDmSection();
  const browse = h('a', { href: '#/browse', class: 'side-link' }, 'Browse rooms');
  const onRoute = (e) => {
    if (e.detail === '#/browse') browse.setAttribute('aria-current', 'page');
    else browse.removeAttribute('aria-current');
  };
  document.addEventListener('enclavr:route', onRoute);
  replace(el,
    h('div', { class: 'side-scroll' },
      h('p', { class: 'side-browse' }, browse),
      roomsPart.section, dmPart.section),
    mountStatusSection());
  el.classList.add('side');
  const offSession = sessionEvents.on('change', (s) => { if (!s) teardown?.(); });
  teardown = () => {
    teardown = null;
    offSession();
    document.removeEventListener('enclavr:route', onRoute);
    roomsPart.cleanup();
    dmPart.cleanup();
  };
  return () => teardown?.();
}
