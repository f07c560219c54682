// Summarises a .cpuprofile (node --cpu-prof): self time by function and by package/file, and inclusive time of
// the functions whose name matches --focus. `tsx bench/tools/profile-summary.ts FILE [--top N] [--focus REGEX]`
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, focus: { type: 'string' }, after: { type: 'string', default: '0' } } });
const profile = JSON.parse(fs.readFileSync(positionals[0]!, 'utf8')) as Profile;
const top = Number(values.top);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// --after MS: only samples taken that long after the profile started (skips start-up).
let at = profile.startTime;
const afterUs = profile.startTime + Number(values.after) * 1000;
const kept = profile.samples.map((_, i) => (at += profile.timeDeltas[i] ?? 0) >= afterUs);
profile.timeDeltas = profile.timeDeltas.map((d, i) => (kept[i] ? d : 0));
// Self time per node from the samples and their deltas (microseconds).
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = profile.nodes.filter((n) => ['(idle)', '(program)', '(garbage collector)'].includes(n.callFrame.functionName));
const short = (url: string) => url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/');
const label = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms`;

process.stdout.write(`total ${(total / 1000).toFixed(0)} ms; ${idle.map((n) => `${n.callFrame.functionName} ${pct(self.get(n.id) ?? 0)}`).join('; ')}\n`);
const sum = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, us] of self) m.set(key(byId.get(id)!), (m.get(key(byId.get(id)!)) ?? 0) + us);
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
};
process.stdout.write('\n== self by function\n');
for (const [k, us] of sum(label)) process.stdout.write(`${pct(us)}  ${k}\n`);
process.stdout.write('\n== self by package / file\n');
const pkg = (n: Node) => {
  const u = short(n.callFrame.url);
  if (!u) return '(native/vm)';
  if (u.startsWith('node:')) return u;
  const m = /^(@[^/]+\/[^/]+|[^/]+)\//.exec(u);
  return u.startsWith('dist/') ? u : (m?.[1] ?? u);
};
for (const [k, us] of sum(pkg)) process.stdout.write(`${pct(us)}  ${k}\n`);
// Each busy sample charged to the nearest frame of our own code (dist/) above it, else to the outermost library.
const owners = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const leaf = byId.get(id)!;
  if (['(idle)', '(program)', '(garbage collector)', '(root)'].includes(leaf.callFrame.functionName)) return;
  let owner: string | undefined;
  let outer = '';
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    const u = short(n.callFrame.url);
    if (!owner && u.startsWith('dist/')) owner = label(n);
    if (u) outer = pkg(n);
  }
  const key = owner ?? `[no own frame] ${outer}`;
  owners.set(key, (owners.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
process.stdout.write('\n== busy time by nearest own frame\n');
for (const [k, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${k}\n`);
if (values.focus) {
  const re = new RegExp(values.focus);
  // Inclusive time: each sample counted once per distinct matching label on its stack.
  const incl = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const l = label(n);
      if (re.test(l) && !seen.has(l)) {
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + (profile.timeDeltas[i] ?? 0));
      }
    }
  });
  process.stdout.write(`\n== inclusive, matching ${values.focus}\n`);
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${k}\n`);
}
