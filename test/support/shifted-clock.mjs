// Preloaded into a mesh-run process (NODE_OPTIONS=--import) to give it a wall clock set off by
// MESH_RUN_TEST_CLOCK_SHIFT_MS, as a machine with a skewed clock, or one whose clock was set back, would read.
// Date.now and new Date() move; the monotonic clock (performance.now) does not, as on a real machine.
const shift = Number(process.env.MESH_RUN_TEST_CLOCK_SHIFT_MS ?? 0);
if (shift) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + shift);
      else super(...args);
    }
    static now() {
      return realNow() + shift;
    }
  }
  globalThis.Date = ShiftedDate;
}
