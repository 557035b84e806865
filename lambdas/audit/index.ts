import { createScheduledAuditHandler } from './scheduledAudit.js';

/** The scheduled audit function (an EventBridge schedule invokes it, daily by default). */
export const handler = createScheduledAuditHandler();
