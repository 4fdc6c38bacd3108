// node scripts/quality/check-set.mjs — checks that every question of the bench:quality set has
// exactly one answer document (scripts/quality/labelled-set.mjs); exit code 1 if not.
import { loadSet, STYLES } from './labelled-set.mjs';

const { documents, questions, problems } = loadSet();
for (const p of problems) console.error(`✗ ${p}`);
const by = (split) => STYLES.map((s) => `${s} ${questions.filter((q) => q.split === split && q.style === s).length}`).join(', ');
console.log(`${documents.length} documents, ${questions.length} questions — tune: ${by('tune')}; held-out: ${by('held-out')}`);
if (problems.length) {
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log('every question has exactly one answer document');
