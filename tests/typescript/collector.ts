// Type-checked by `.ci/run` with tsc against the committed declarations of the collector
// script: the correct calls compile, and each `@ts-expect-error` line must fail (tsc
// reports an unused directive otherwise).
import type {
  Collector,
  CollectorOptions,
  CollectorStats,
  WebActionEvent,
  WebActionMediaType,
} from '../../docs/events/webaction-collector';

const collector: Collector = WebActionCollector.start({
  endpoint: 'https://collector.example/v1/events',
  writeKey: 'site-key',
  batchSize: 20,
  flushMs: 2000,
});

// Your own enrichment: an event of a registered media type in, the event (or a promise
// of it, or nothing) out; the built-in one can be called from it.
const options: CollectorOptions = {
  endpoint: '/v1/events',
  enrich: async (event: WebActionEvent) => {
    const enriched = await WebActionCollector.genesysConversationId(event);
    return enriched ?? event;
  },
};
WebActionCollector.start(options);
WebActionCollector.start({ endpoint: '/v1/events', enrich: false });

const stats: CollectorStats = collector.stats();
const notSent: number = stats.dropped + stats.failed;
console.log(notSent, stats.beaconed, stats.accepted);
collector.flush().then((s) => console.log(s.queued));
void collector.stop();

const kinds: readonly WebActionMediaType[] = WebActionCollector.mediaTypes;
const chat: WebActionMediaType = 'webchat';
console.log(kinds, chat);

// @ts-expect-error: the endpoint is required
WebActionCollector.start({ writeKey: 'site-key' });

// @ts-expect-error: batchSize is a number
WebActionCollector.start({ endpoint: '/v1/events', batchSize: '20' });

// @ts-expect-error: 'poll' is not a registered media type
const poll: WebActionMediaType = 'poll';
console.log(poll);

// @ts-expect-error: an enrichment returns an event, not a string
WebActionCollector.start({ endpoint: '/v1/events', enrich: (e: WebActionEvent) => e.actionId });
