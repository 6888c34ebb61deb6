/**
 * The outputs of a scenario run: lockstep runs are bit-for-bit repeatable (trace, summary and MCAP identical
 * across two runs with the same seed); the MCAP recording reads back with the MCAP readers and holds every frame
 * on every topic; the JUnit file is well-formed XML in the testsuite/testcase/failure shape; telemetry writes one
 * JSON line per frame.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McapIndexedReader, McapStreamReader, TempBuffer } from '@mcap/core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { junitXml } from '../../hil/output/junit.ts';
import type { ScenarioOutcome } from '../../hil/output/outcome.ts';
import { openTelemetry } from '../../hil/output/telemetry.ts';
import { runScenario } from '../../hil/run.ts';
import { loadScenarioFile, parseScenarioText } from '../../hil/scenario/load.ts';
import type { EventRecord, Trace } from '../../src/runtime/report/trace.ts';
import { parseXml, type XmlElement } from './xml.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-hil-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });
const references = new Map<string, Trace>();

const options = (out: string, extra = {}) => ({
  timing: 'lockstep' as const,
  out,
  logger: silent,
  requireHardware: false,
  pace: false,
  probeTimeoutMs: 200,
  references,
  ...extra,
});

const SCENARIO = `description: c1 random, a doublet and a sweep on the stick, a sensor bias
duration: 3
seed: 7
pilot:
  - step: { at: 0.2, to: 0.1 }
  - doublet: { at: 1, amplitude: 0.03, width: 0.6 }
  - sweep: { at: 1.8, duration: 1, amplitude: 0.02, from: 0.5, to: 2 }
sensors:
  - { noise: 0.001, bias: 0.002 }
timeline:
  - { at: 1, until: 2.5, fault: channel garbage, target: 1 }
  - { at: 1.5, mark: halfway }
assertions:
  noFailsafe: true
  deviation: [{ signal: voted, max: 0.01 }]
`;

let a: ScenarioOutcome;
let b: ScenarioOutcome;
let telemetryFile: string;

beforeAll(async () => {
  const loaded = parseScenarioText(SCENARIO, join(dir, 'outputs.yaml'));
  telemetryFile = join(dir, 'telemetry.jsonl');
  const sink = openTelemetry(telemetryFile);
  a = await runScenario(loaded, options(join(dir, 'a'), { telemetry: sink }));
  await sink.close();
  b = await runScenario(loaded, options(join(dir, 'b')));
}, 120_000);

const read = (o: ScenarioOutcome, f: string): Buffer => readFileSync(join(o.dir!, f));

describe('lockstep runs are bit-for-bit repeatable', () => {
  it('two runs with the same seed write identical traces, summaries and MCAP files', () => {
    expect(a.verdict).toBe('pass');
    for (const f of ['trace.csv', 'summary.json', 'recording.mcap']) {
      expect(read(a, f).length, f).toBeGreaterThan(100);
      expect(read(a, f).equals(read(b, f)), `${f} differs between two runs of seed 7`).toBe(true);
    }
  });

  it('another seed flies differently (the comparison can fail)', async () => {
    const loaded = parseScenarioText(SCENARIO.replace('seed: 7', 'seed: 8'), join(dir, 'outputs.yaml'));
    const c = await runScenario(loaded, options(join(dir, 'c')));
    expect(read(c, 'trace.csv').equals(read(a, 'trace.csv'))).toBe(false);
  }, 60_000);
});

describe('the MCAP recording', () => {
  it('reads back with the indexed reader and holds every frame on every topic', async () => {
    const reader = await McapIndexedReader.Initialize({
      readable: new TempBuffer(read(a, 'recording.mcap')),
    });
    const topics = [...reader.channelsById.values()].map((c) => c.topic).sort();
    expect(topics).toEqual(
      [
        '/actuator',
        '/channel/c0',
        '/channel/c1',
        '/channel/c2',
        '/events',
        '/inputs',
        '/pbft',
        '/pilot',
        '/plant',
        '/recoveries',
        '/sensors',
        '/voter',
      ].sort(),
    );
    for (const c of reader.channelsById.values()) {
      expect(c.messageEncoding).toBe('json');
      expect(reader.schemasById.get(c.schemaId)?.encoding).toBe('jsonschema');
    }
    const byTopic = new Map<string, { frame: number }[]>();
    for await (const m of reader.readMessages()) {
      const topic = reader.channelsById.get(m.channelId)!.topic;
      const list = byTopic.get(topic) ?? [];
      list.push(JSON.parse(new TextDecoder().decode(m.data)));
      byTopic.set(topic, list);
    }
    const frames = a.frames;
    expect(frames).toBe(150);
    for (const t of [
      '/plant',
      '/pilot',
      '/sensors',
      '/inputs',
      '/voter',
      '/actuator',
      '/pbft',
      '/channel/c0',
      '/channel/c1',
      '/channel/c2',
    ]) {
      const list = byTopic.get(t) ?? [];
      expect(
        list.map((x) => x.frame),
        t,
      ).toEqual(Array.from({ length: frames }, (_, k) => k));
    }
    const trace = JSON.parse(read(a, 'summary.json').toString()) as { events: { kind: string }[] };
    expect((byTopic.get('/events') ?? []).length).toBe(trace.events.length);
    expect(trace.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['fault-injected', 'mark', 'fault-cleared']),
    );
    const voter = byTopic.get('/voter') as unknown as { outcome: string }[];
    expect(voter.every((v) => ['write', 'hold', 'failsafe'].includes(v.outcome))).toBe(true);
  });

  it('streams through the stream reader with every chunk CRC checked', () => {
    const reader = new McapStreamReader({ validateCrcs: true });
    reader.append(read(a, 'recording.mcap'));
    let messages = 0;
    for (let r = reader.nextRecord(); r !== undefined; r = reader.nextRecord())
      if (r.type === 'Message') messages++;
    expect(reader.done()).toBe(true);
    expect(messages).toBeGreaterThanOrEqual(150 * 10);
  });
});

describe('telemetry', () => {
  it('one JSON line per frame, and the events', () => {
    const lines = readFileSync(telemetryFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const frames = lines.filter((l) => l.type === 'frame');
    expect(frames.map((f) => f.frame)).toEqual(Array.from({ length: 150 }, (_, k) => k));
    expect(frames[0]).toEqual(
      expect.objectContaining({
        scenario: 'outputs',
        outcome: expect.any(String),
        channels: expect.any(Array),
      }),
    );
    expect(lines.some((l) => l.type === 'event' && l.kind === 'fault-injected')).toBe(true);
  });
});

describe('telemetry over UDP', () => {
  it('sends one datagram per line to udp://HOST:PORT and flushes them on close', async () => {
    const rx = createSocket('udp4');
    const got: string[] = [];
    rx.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const sink = openTelemetry(`udp://127.0.0.1:${rx.address().port}`);
    const trace = JSON.parse(read(a, 'summary.json').toString()) as { events: EventRecord[] };
    for (const e of trace.events.slice(0, 3)) sink.event('outputs', e);
    await sink.close();
    for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    rx.close();
    expect(got.map((g) => JSON.parse(g).type)).toEqual(['event', 'event', 'event']);
    expect(sink.stats()).toEqual({ sent: 3, failed: 0 });
    expect(() => openTelemetry('udp://127.0.0.1:notaport')).toThrow(/expected udp:\/\/HOST:PORT/);
  });
});

describe('JUnit XML', () => {
  function children(e: XmlElement, name: string): XmlElement[] {
    return e.children.filter((c) => c.name === name);
  }

  it('is well formed, one testcase per scenario, counts consistent, failures and errors carry a message', async () => {
    const failing = parseScenarioText(
      `description: "fails <on purpose> & says why"\nduration: 1\nassertions:\n  summary: [{ path: voter.failsafe, min: 1 }]\n`,
      join(dir, 'failing.yaml'),
    );
    const f = await runScenario(failing, options(join(dir, 'f')));
    expect(f.verdict).toBe('fail');
    const error: ScenarioOutcome = {
      ...f,
      name: 'broken',
      verdict: 'error',
      error: 'bench error: board b0 answers as b1',
      assertions: [],
    };
    const known: ScenarioOutcome = {
      ...f,
      name: 'known',
      verdict: 'known-failure',
      knownIssue: 'issue 9 class 5',
    };
    const xml = junitXml([a, f, error, known]);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    const [suite, ...more] = children(root, 'testsuite');
    expect(more).toEqual([]);
    for (const k of ['name', 'tests', 'failures', 'errors', 'skipped', 'time'])
      expect(suite!.attributes[k], k).toBeDefined();
    const cases = children(suite!, 'testcase');
    expect(Number(suite!.attributes.tests)).toBe(cases.length);
    expect(cases.map((c) => c.attributes.name)).toEqual(['outputs', 'failing', 'broken', 'known']);
    for (const c of cases) {
      expect(c.attributes.classname).toBe('triplex.hil');
      expect(Number.isFinite(Number(c.attributes.time))).toBe(true);
      expect(children(c, 'system-out')).toHaveLength(1);
    }
    const failures = cases.flatMap((c) => children(c, 'failure'));
    expect(failures).toHaveLength(Number(suite!.attributes.failures));
    expect(failures[0]!.attributes.message).toContain('summary voter.failsafe');
    expect(cases.flatMap((c) => children(c, 'error'))).toHaveLength(Number(suite!.attributes.errors));
    expect(cases.flatMap((c) => children(c, 'skipped'))).toHaveLength(Number(suite!.attributes.skipped));
    expect(children(cases[0]!, 'failure')).toEqual([]);
    expect(children(cases[1]!, 'system-out')[0]!.text).toContain('fails <on purpose> & says why');
  }, 60_000);

  it('the checker rejects what is not well formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow();
    expect(() => parseXml('<a x=1/>')).toThrow();
    expect(() => parseXml('<a>1 & 2</a>')).toThrow();
  });
});

describe('a library scenario file loads', () => {
  it('channel-garbage', () => {
    expect(loadScenarioFile('hil/scenarios/channel-garbage.yaml').scenario.faults).toHaveLength(1);
  });
});
