import { afterEach, expect } from 'vitest';

// RELIABILITY R1: no scenario may leave a rejection unhandled.
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason);
});

afterEach(() => {
  const seen = unhandled.splice(0);
  expect(seen, 'unhandled promise rejections during the test').toEqual([]);
});
