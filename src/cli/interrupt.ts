/**
 * Ctrl-C and SIGTERM for the whole command. The first signal aborts `signal` (a flight stops after its current
 * frame, then writes its report); every later one is acknowledged and otherwise ignored until the command has
 * finished, so that a second Ctrl-C (a terminal sends one to every process of the group, a launcher may relay
 * another) cannot cut the report short. The handlers stay installed until the process exits: Node's default
 * action for SIGINT would kill it wherever it is.
 *
 * @example
 * const interrupt = Interrupt.install(process);
 * await fly({ ..., signal: interrupt.signal });
 * return interrupt.signal.aborted ? EXIT.interrupted : code;
 */

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

export interface SignalSource {
  on(event: InterruptSignal, listener: (signal: InterruptSignal) => void): unknown;
  off(event: InterruptSignal, listener: (signal: InterruptSignal) => void): unknown;
}

export interface Notice {
  write(text: string): unknown;
}

export class Interrupt {
  private readonly controller = new AbortController();
  private received = 0;
  /** Set by the command while it finishes: what the user is waiting for (shown on a repeated signal). */
  finishing = 'finishing the current frame and writing the report';

  private constructor(
    private readonly source: SignalSource,
    private readonly notice: Notice,
  ) {}

  /** Installs SIGINT and SIGTERM handlers on `source` (the process). */
  static install(source: SignalSource, notice: Notice = process.stderr): Interrupt {
    const interrupt = new Interrupt(source, notice);
    source.on('SIGINT', interrupt.onSignal);
    source.on('SIGTERM', interrupt.onSignal);
    return interrupt;
  }

  /** Aborted at the first SIGINT or SIGTERM. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Signals received so far. */
  get count(): number {
    return this.received;
  }

  /** Removes the handlers (tests; a command leaves them until exit). */
  uninstall(): void {
    this.source.off('SIGINT', this.onSignal);
    this.source.off('SIGTERM', this.onSignal);
  }

  private readonly onSignal = (signal: InterruptSignal): void => {
    this.received++;
    if (this.received === 1) {
      this.notice.write(`\n${signal}: stopping; ${this.finishing} (exit code 130)\n`);
      this.controller.abort(signal);
    } else if (this.received <= 3) {
      this.notice.write(`${signal} again: still ${this.finishing}; it cannot be cut short\n`);
    }
  };
}
