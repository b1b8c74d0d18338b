import type { Catalogue, MessageKey } from './catalogue.js';

/** A message not yet rendered: a catalogue key and its parameters. Errors carry these, never finished strings. */
export interface Message {
  key: MessageKey;
  params?: Readonly<Record<string, string | number>>;
}

/** Renders a message in one catalogue, filling `{name}` placeholders. */
export function render(catalogue: Catalogue, message: Message): string {
  return fillTemplate(catalogue[message.key], message.params);
}

/** Fills a template's `{name}` placeholders from `params`; unknown names stay as written. */
export function fillTemplate(template: string, params: Readonly<Record<string, string | number>> | undefined): string {
  if (params === undefined) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}
