/**
 * The `triplex` command. Each subcommand lives in its own module and is loaded only when used, so a missing
 * optional dependency (socketcan) never breaks commands that do not need it.
 *
 * Exit codes (every subcommand): 0 passed or done, 1 an assertion (or a key operation) failed, 2 bad command
 * line, config, key files or port, 130 interrupted, 70 an internal error (a bug: the stack is printed).
 */
import { EXIT } from './args.ts';
import { Interrupt } from './interrupt.ts';

/** A subcommand: its arguments and the process-wide interrupt in, the exit code out. */
export type Command = (argv: string[], interrupt: Interrupt) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  sim: {
    summary: 'run the simulated laptop mode (default scenario); --help for options',
    load: async () => (await import('./sim.ts')).simCommand,
  },
  node: {
    summary: 'run one board as its own process on its real links (--config FILE --board NAME); --help',
    load: async () => (await import('./node.ts')).nodeCommand,
  },
  keys: {
    summary: 'keys gen --out DIR (--config FILE | --principals name:id,...) | keys check --dir DIR',
    load: async () => (await import('./keys.ts')).keysCommand,
  },
  hil: {
    summary: 'HIL rig: list | run SCENARIO... | probe | board; --help',
    load: async () => (await import('./hil.ts')).hilCommand,
  },
  ports: {
    summary: 'list serial ports (falls back to scanning /dev without udev)',
    load: async () => (await import('./ports.ts')).portsCommand,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  triplex ${name.padEnd(6)} ${c.summary}`);
  return [
    'usage: triplex <command> [options]',
    '',
    ...lines,
    '',
    'Run `triplex <command> --help` for options.',
    'Exit codes: 0 passed, 1 an assertion failed, 2 bad options or config, 130 interrupted.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const interrupt = Interrupt.install(process);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`triplex: unknown command '${name}'\n${usage()}\n`);
    return EXIT.usage;
  }
  return (await command.load())(rest, interrupt);
}

let finished = false;
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    finished = true;
  },
  (err: unknown) => {
    process.stderr.write(
      `triplex: internal error (please report it with this text): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = EXIT.internal;
    finished = true;
  },
);

// The signal handlers (Interrupt) are kept to the very end. Left to end on its own, Node closes them in its exit
// teardown, after 'exit', and a SIGTERM that lands after that (a parent that sends its stop and its SIGTERM
// together, a supervisor's group signal) kills the process by the default action: a clean stop reported as
// death by SIGTERM. Once the command has finished and nothing is left to run ('beforeExit': every write done),
// process.exit ends it on a path that leaves the handlers in place (a later signal is swallowed) and keeps
// the exit code.
process.on('beforeExit', () => {
  if (finished) process.exit();
});
