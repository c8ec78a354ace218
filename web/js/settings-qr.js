// A QR code as an SVG built node by node (never markup), from the vendored
// qrcode-generator (web/vendor/README.md), loaded only when needed.
const SVG = 'http://www.w3.org/2000/svg';
const QUIET = 4; // modules of white border, as the standard asks

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export async function qrSvg(text, label) {
  const { default: qrcode } = await import('../vendor/qrcode-generator.js');
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const size = n + QUIET * 2;
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + QUIET} ${r + QUIET}h1v1h-1z`;
  }
  const svg = svgEl('svg', {
    viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-label': label,
    'shape-rendering': 'crispEdges', class: 'qr',
  });
  svg.append(svgEl('rect', { width: size, height: size, fill: '#fff' }), svgEl('path', { d, fill: '#000' }));
  return svg;
}
