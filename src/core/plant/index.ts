/**
 * Plant models for simulation and HIL: the Control Tutorials aircraft pitch model discretized exactly
 * (ZOH) at the frame rate, an elevator actuator with position and rate limits, and three seeded pitch
 * sensors with injectable faults.
 *
 * @example
 * const plant = new PitchPlant(50);            // 50 frames per second
 * const act = new ElevatorActuator();          // +-25 deg, 40 deg/s
 * const sensors = new SensorTriplex(new Prng(7));
 * const readings = sensors.read(plant.theta, 0);
 * plant.step(act.drive(0.05, 1 / 50));
 */
export { type ActuatorLimits, DEFAULT_ACTUATOR_LIMITS, ElevatorActuator } from './actuator.ts';
export { expm, type Matrix } from './matrix.ts';
export {
  type DiscreteModel,
  discretizeZoh,
  PITCH_A,
  PITCH_B,
  PITCH_TRIM,
  PitchPlant,
  type PitchState,
  pitchDerivative,
  pitchModelAt,
} from './pitch.ts';
export {
  DEFAULT_SENSOR_CONFIG,
  PitchSensor,
  type SensorConfig,
  type SensorFault,
  SensorTriplex,
} from './sensors.ts';
