// Placeholder client: shows whether every daemon answers /health.
(async () => {
  const out = document.getElementById('health');
  try {
    const res = await fetch('/health', { headers: { Accept: 'application/json' } });
    const body = await res.json();
    const names = Object.entries(body.daemons || {})
      .map(([name, d]) => `${name} ${d.status}`).join(', ');
    out.textContent = `${res.ok ? 'all up' : 'degraded'} (${names})`;
    out.dataset.state = res.ok ? 'up' : 'degraded';
  } catch (err) {
    out.textContent = 'unreachable';
    out.dataset.state = 'down';
  }
})();
