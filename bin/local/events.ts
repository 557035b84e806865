import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { noteOutput } from './hygiene.js';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';

const region = 'us-east-1';

export function eventsClient(endpoint: string, credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }) {
  return new EventBridgeClient({ endpoint, region, credentials });
}

/**
 * An EventBridge rule with an SQS target, to see what reaches the bus (moto delivers to SQS
 * targets; a Lambda target would make PutEvents fail).
 */
export async function captureEvents(
  endpoint: string,
  pattern: Record<string, unknown>,
  credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' },
) {
  const sqs = new SQSClient({ endpoint, region, credentials });
  const events = eventsClient(endpoint, credentials);
  const name = `rotor-capture-${randomBytes(4).toString('hex')}`;
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }));
  await events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern), State: 'ENABLED' }));
  await events.send(
    new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'sqs', Arn: attrs.Attributes!.QueueArn! }] }),
  );
  return {
    /** Every event delivered so far (drains the queue). */
    async drain(): Promise<Array<{ source: string; 'detail-type': string; detail: Record<string, unknown>; id: string }>> {
      const out = [];
      for (;;) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!got.Messages?.length) break;
        for (const m of got.Messages) {
          noteOutput(m.Body);
          out.push(JSON.parse(m.Body!));
        }
      }
      return out;
    },
  };
}
