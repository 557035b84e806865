/** When a secret rotates next: the audit's module (lambdas/audit/schedule.ts), which the scheduled audit function shares. */
export { nextRotation, rateInterval, type NextRotation, type RotationSchedule } from '../../lambdas/audit/schedule.js';
