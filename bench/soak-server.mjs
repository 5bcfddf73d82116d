// The reference server as `npm start` runs it (dist/server/main.js), with a window on its heap for
// `npm run soak`: asked over IPC, it collects garbage and answers process.memoryUsage(), so the soak
// can tell a leak (live heap that keeps growing) from a heap V8 has not yet had reason to shrink.
process.on('message', () => {
  globalThis.gc?.();
  process.send?.(process.memoryUsage());
});
await import('../dist/server/main.js');
