// Line icons for the message views, drawn as inline SVG (no font or image
// to fetch, the same on every system). icon('pin') -> <svg aria-hidden>.
const PATHS = {
  search: 'M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13zM20 20l-4.8-4.8',
  pin: 'M9 3h6l-1 6l3 3v2H7v-2l3-3zM12 14v7',
  unpin: 'M9 3h6l-1 6l3 3v2H7v-2l3-3zM12 14v7M4 4l16 16',
  smile: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM8 14s1.5 2 4 2s4-2 4-2M9 9.5h.01M15 9.5h.01',
  thread: 'M4 5h16v11H10l-5 4v-4H4z',
  edit: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  close: 'M6 6l12 12M18 6L6 18',
};
const NS = 'http://www.w3.org/2000/svg';

const made = new Map();

export function icon(name) {
  if (made.has(name)) return made.get(name).cloneNode(true);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', PATHS[name]);
  svg.append(path);
  made.set(name, svg);
  return svg.cloneNode(true);
}
