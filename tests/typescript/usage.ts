// Type-checked by `.ci/run` with tsc against the committed declarations: the correct calls
// must compile, and each `@ts-expect-error` line must fail (tsc reports an unused
// directive otherwise), so a declaration that accepts anything fails this check.
import type {
  ContentOfferEvent,
  WebActionTopic,
  WebChatErroredEvent,
  WebChatEvent,
} from '../../docs/events/webaction-events';

// A topic of one state types the callback's event to that state.
ac('on', 'webchat:offered', (e) => {
  const state: 'offered' = e.actionState;
  const id: string = e.actionId;
  const version: number = e.actionMapVersion;
  const conversation: string | null | undefined = e.conversationId;
  console.log(state, id, version, conversation);
});

// An alias spelling is part of the state's type.
ac('once', 'webchat:timedout', (e) => {
  const state: 'timedout' | 'timed out' | 'timedOut' = e.actionState;
  console.log(state);
});

// `errored` requires `errorMessage`: it is a string there, not optional.
ac('on', 'webchat:errored', (e) => {
  const message: string = e.errorMessage;
  console.log(message.length);
});

// `<mediaType>:all` gives the union; checking the state narrows it.
ac('on', 'webchat:all', (e: WebChatEvent) => {
  if (e.actionState === 'errored') {
    const errored: WebChatErroredEvent = e;
    console.log(errored.errorMessage.toUpperCase());
  }
  // Unknown fields are kept, so they can be read (as `unknown`).
  const extra: unknown = e['enrichedBy'];
  console.log(extra);
});

ac('on', 'contentoffer:all', (e: ContentOfferEvent) => {
  const media: 'contentoffer' = e.actionMediaType;
  console.log(media);
});

// `off` takes the topic and, optionally, the callback.
const onAccepted = (e: { actionId: string }) => console.log(e.actionId);
ac('on', 'contentoffer:accepted', onAccepted);
ac('off', 'contentoffer:accepted', onAccepted);
ac('off', 'webchat:all');

const topics: WebActionTopic[] = ['webchat:offered', 'contentoffer:all'];
console.log(topics);

// A misspelt topic is a type error.
// @ts-expect-error: 'webchat:oferred' is not a topic
ac('on', 'webchat:oferred', (e) => console.log(e));

// A media type's state that does not exist for another media type.
// @ts-expect-error: content offers have no timeout state
ac('on', 'contentoffer:timedout', (e) => console.log(e));

// An unknown command.
// @ts-expect-error: 'onn' is not a command
ac('onn', 'webchat:offered', (e) => console.log(e));

// The event of one topic is not the event of another.
ac('on', 'webchat:offered', (e) => {
  // @ts-expect-error: an offered event's state is 'offered'
  const state: 'accepted' = e.actionState;
  console.log(state);
});

// A callback written for a content offer does not fit a chat topic.
// @ts-expect-error: a contentoffer callback given to a webchat topic
ac('on', 'webchat:accepted', (e: ContentOfferEvent) => console.log(e));

// Outside `errored`, `errorMessage` may be absent.
ac('on', 'webchat:offered', (e) => {
  // @ts-expect-error: errorMessage is optional outside `errored`
  const message: string = e.errorMessage;
  console.log(message);
});
