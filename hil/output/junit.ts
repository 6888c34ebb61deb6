/**
 * JUnit XML for CI (`--junit FILE`): one testsuite, one testcase per scenario, in the shape the usual schema
 * (Jenkins, GitLab, GitHub test reporters) reads: testsuites > testsuite(name, tests, failures, errors, skipped,
 * time) > testcase(classname, name, time) with a failure, error or skipped child and system-out.
 *
 * A known failure is reported as skipped with the issue as its message: CI shows it without going red.
 */
import type { ScenarioOutcome } from './outcome.ts';

/** Escapes text and attribute values; drops characters XML 1.0 cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const secs = (s: number): string => (Number.isFinite(s) ? s.toFixed(3) : '0.000');

function caseXml(o: ScenarioOutcome, suite: string): string {
  const failed = o.assertions.filter((a) => !a.passed);
  const lines = [
    `${o.description}`,
    `file: ${o.file}  seed: ${o.seed}  timing: ${o.timing}  frames: ${o.frames}`,
    ...o.boards.map((b) => `board ${b.name}: ${b.mode} (${b.why})`),
    ...o.assertions.map(
      (a) => `${a.notApplicable ? 'n/a ' : a.passed ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`,
    ),
    ...o.faults.map((f) => `fault ${f.fault} ${f.target} at ${f.atS}s: ${f.status} (${f.detail})`),
    ...(o.html ? [`report: ${o.html}`] : []),
  ];
  let child = '';
  if (o.verdict === 'fail') {
    const message = failed.map((a) => `${a.name}: ${a.detail}`).join('; ');
    child = `<failure message="${xmlEscape(message)}" type="AssertionFailed">${xmlEscape(failed.map((a) => `${a.name}: ${a.detail}`).join('\n'))}</failure>`;
  } else if (o.verdict === 'error') {
    child = `<error message="${xmlEscape(o.error ?? 'error')}" type="ScenarioError">${xmlEscape(o.error ?? '')}</error>`;
  } else if (o.verdict === 'known-failure') {
    child = `<skipped message="${xmlEscape(`known failure: ${o.knownIssue ?? ''}`)}"/>`;
  }
  return (
    `    <testcase classname="${xmlEscape(suite)}" name="${xmlEscape(o.name)}" file="${xmlEscape(o.file)}" time="${secs(o.wallSeconds)}">` +
    `${child}<system-out>${xmlEscape(lines.join('\n'))}</system-out></testcase>`
  );
}

/** The whole JUnit document for a set of scenario runs. */
export function junitXml(outcomes: readonly ScenarioOutcome[], suite = 'triplex.hil'): string {
  const failures = outcomes.filter((o) => o.verdict === 'fail').length;
  const errors = outcomes.filter((o) => o.verdict === 'error').length;
  const skipped = outcomes.filter((o) => o.verdict === 'known-failure').length;
  const time = outcomes.reduce((s, o) => s + o.wallSeconds, 0);
  const head = `tests="${outcomes.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${secs(time)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="triplex hil" ${head}>`,
    `  <testsuite name="${xmlEscape(suite)}" ${head}>`,
    ...outcomes.map((o) => caseXml(o, suite)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
