// Prints each failed test of a vitest JSON report (file, name, first lines of its error), so that
// the end of a long CI log names what failed on which build without scrolling back.
import { readFileSync } from 'node:fs';

const [label, reportPath] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (error) {
  console.log(`[test] ${label}: no test report at ${reportPath} (${error.message})`);
  process.exit(0);
}
// The message and the project's own frames; the runner's frames say nothing about the failure.
const excerpt = (text) =>
  String(text)
    .split('\n')
    .filter((line) => !line.includes('/node_modules/') && !line.includes('new Promise'))
    .slice(0, 16)
    .join('\n    ');

for (const file of report.testResults ?? []) {
  const failed = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
  if (failed.length === 0 && file.status === 'failed') {
    console.log(`[test] ${label}: ${file.name}: ${excerpt(file.message)}`);
  }
  for (const test of failed) {
    const message = excerpt((test.failureMessages ?? []).join('\n'));
    console.log(`[test] ${label}: ${file.name} > ${test.fullName}\n    ${message}`);
  }
}
