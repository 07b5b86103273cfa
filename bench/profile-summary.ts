// Prints where a CPU profile spent its time: node dist-bench/bench/profile-summary.js <file.cpuprofile>...
import { renderProfile, summarizeProfile } from './lib/profile.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node dist-bench/bench/profile-summary.js <file.cpuprofile>...\n');
  process.exit(2);
}
for (const f of files) console.log(`${renderProfile(summarizeProfile(f))}\n`);
