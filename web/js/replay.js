// A list read over the network races the events that change it: an event
// that arrives while a read is in flight is applied again on top of what
// was read (the handlers are idempotent), so none is lost to the read.
//
//   const replay = replayer();
//   const load = () => replay.read(async (settle) => { state = await fetch(); settle(); });
//   live.on('x', (e) => replay.event(() => apply(e)));
export function replayer() {
  const reads = [];
  return {
    async read(fn) {
      const during = [];
      reads.push(during);
      try {
        return await fn(() => during.forEach((f) => f()));
      } finally {
        reads.splice(reads.indexOf(during), 1);
      }
    },
    event(fn) {
      for (const during of reads) during.push(fn);
      fn();
    },
    get busy() { return reads.length > 0; },
  };
}
