import type { EventStore, EventId, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * Resumability store for one session, bounded so a client that never resumes cannot grow memory:
 * the newest `maxEvents` events are kept; ids are "<stream>|<seq>" so a lookup needs no scan.
 */
export class BoundedEventStore implements EventStore {
  private seq = 0;
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();

  constructor(private readonly maxEvents = 256) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}|${++this.seq}`;
    this.events.set(id, { streamId, message });
    if (this.events.size > this.maxEvents) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const cut = eventId.lastIndexOf('|');
    return cut > 0 ? eventId.slice(0, cut) : undefined;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    if (streamId === undefined) throw new Error(`Unknown event id ${lastEventId}`);
    const after = Number(lastEventId.slice(streamId.length + 1));
    for (const [id, e] of this.events) {
      if (e.streamId !== streamId) continue;
      if (Number(id.slice(streamId.length + 1)) <= after) continue;
      // The priming event carries an empty object: it marks a position, there is nothing to replay.
      if (Object.keys(e.message).length === 0) continue;
      await send(id, e.message);
    }
    return streamId;
  }
}
