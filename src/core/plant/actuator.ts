/**
 * Elevator actuator with a position limit and a rate limit, updated once per frame. The position it
 * reaches in a frame is held over the next plant interval (the plant is ZOH-discretized).
 *
 * Defaults: +-0.436 rad (25 deg) travel, 0.7 rad/s (40 deg/s) slew. Transport-category elevator
 * travel is roughly 20..30 deg; hydraulic elevator actuators slew at roughly 30..60 deg/s. 40 deg/s is
 * a middle value that still lets the pitch loop meet its step criteria with margin (see the control
 * tests), and is slow enough that the control law's own rate limit matters.
 */
export interface ActuatorLimits {
  /** Symmetric position limit, rad (> 0). */
  readonly maxDeflection: number;
  /** Slew-rate limit, rad/s (> 0). */
  readonly maxRate: number;
}

export const DEFAULT_ACTUATOR_LIMITS: ActuatorLimits = { maxDeflection: 0.436, maxRate: 0.7 };

export class ElevatorActuator {
  readonly limits: ActuatorLimits;
  private pos: number;
  /** Non-finite commands received (held at the current position instead). */
  rejectedCommands = 0;

  constructor(limits: ActuatorLimits = DEFAULT_ACTUATOR_LIMITS, initial = 0) {
    if (!(limits.maxDeflection > 0) || !(limits.maxRate > 0)) {
      throw new RangeError(`ElevatorActuator: limits must be positive, got ${JSON.stringify(limits)}`);
    }
    this.limits = limits;
    this.pos = clamp(initial, -limits.maxDeflection, limits.maxDeflection);
  }

  /** Drive toward `command` (rad) for one frame of length dt (s); returns the new position. */
  drive(command: number, dt: number): number {
    if (!Number.isFinite(command)) {
      this.rejectedCommands++;
      return this.pos;
    }
    const maxStep = this.limits.maxRate * dt;
    const target = clamp(command, -this.limits.maxDeflection, this.limits.maxDeflection);
    this.pos += clamp(target - this.pos, -maxStep, maxStep);
    return this.pos;
  }

  get position(): number {
    return this.pos;
  }
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
