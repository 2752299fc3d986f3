// A fixed piece of plain-JavaScript work like a client's (small objects, JSON, buffers, a map),
// timed in a fresh process so the test process's own heap does not change its cost. Prints the
// median CPU milliseconds of 7 runs, after 3 warm-up runs. Used by cpu-meter.ts.
function work() {
  let checksum = 0;
  const map = new Map();
  for (let i = 0; i < 8000; i++) {
    const key = `reference/key/${i % 500}`;
    const value = Buffer.from(JSON.stringify({ i, key, tags: ['a', 'b', String(i)] }));
    map.set(key, { key, value, revision: i });
    const back = JSON.parse(value.toString('utf8'));
    checksum = (checksum + back.i + value.length) | 0;
  }
  for (const entry of map.values()) checksum = (checksum + entry.value.readUInt8(0) + entry.revision) | 0;
  return checksum;
}
function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
let sink = 0;
for (let run = 0; run < 3; run++) sink = (sink + work()) | 0;
const samples = [];
for (let run = 0; run < 7; run++) {
  const before = cpuMs();
  sink = (sink + work()) | 0;
  samples.push(cpuMs() - before);
}
samples.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ ms: samples[3], sink })}\n`);
